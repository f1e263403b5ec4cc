// Skiplock dashboard: live refresh of [data-live] regions, the overview's charts, confirmations
// and "select all". Plain JS, no build step; loaded with `defer`, and the page's CSP allows no
// inline script, so everything the pages do in the browser is in this file.
"use strict";

const REFRESH_MS = 2000;
const CHART_REFRESH_MS = 10000;

// Swap each [data-live] element (by id) for its fresh copy from the same URL. Paused while the
// tab is hidden, and while the user has a control inside a region focused (typing or ticking).
function refreshLiveRegions() {
  const regions = document.querySelectorAll("[data-live][id]");
  if (!regions.length) return;
  setInterval(async () => {
    if (document.hidden) return;
    if (document.activeElement && document.activeElement.closest("[data-live]")) return;
    let response;
    try {
      response = await fetch(location.href, {credentials: "same-origin", headers: {"X-Live": "1"}});
    } catch (error) {
      return;  // offline for a moment: the next tick tries again
    }
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of regions) {
      const replacement = fresh.getElementById(region.id);
      if (replacement && replacement.innerHTML !== region.innerHTML) {
        region.innerHTML = replacement.innerHTML;
      }
    }
  }, REFRESH_MS);
}

function seconds(values) {
  return values.map((v) => (v === null ? null : Math.round(v * 1000) / 1000));
}

const CHARTS = {
  throughput: (data) => ({
    series: [{}, {label: "processed", stroke: "#2f7ed8", width: 2},
             {label: "failed", stroke: "#d9534f", width: 2}],
    data: [data.minute, data.processed, data.failed],
  }),
  timing: (data) => ({
    series: [{}, {label: "runtime (s)", stroke: "#5cb85c", width: 2},
             {label: "wait (s)", stroke: "#f0ad4e", width: 2}],
    data: [data.minute, seconds(data.runtime_avg), seconds(data.wait_avg)],
  }),
};

async function drawChart(element) {
  const query = new URLSearchParams({window: element.dataset.window === "day" ? "day" : "hour"});
  if (element.dataset.queue) query.set("queue", element.dataset.queue);
  if (element.dataset.class) query.set("class", element.dataset.class);
  const response = await fetch(`/api/metrics/history?${query}`, {credentials: "same-origin"});
  if (!response.ok) return;
  const made = CHARTS[element.dataset.chart](await response.json());
  const size = {width: Math.max(element.clientWidth, 260), height: 200};
  if (element.uplot) {
    element.uplot.setData(made.data);
    return;
  }
  element.uplot = new uPlot({...size, series: made.series, scales: {x: {time: true}}},
                            made.data, element);
  new ResizeObserver(() => element.uplot.setSize({width: Math.max(element.clientWidth, 260), height: 200}))
    .observe(element);
}

function drawCharts() {
  const charts = document.querySelectorAll("[data-chart]");
  if (!charts.length || typeof uPlot === "undefined") return;
  const all = () => charts.forEach((chart) => drawChart(chart).catch(() => {}));
  all();
  setInterval(() => { if (!document.hidden) all(); }, CHART_REFRESH_MS);
}

// A form or button with data-confirm asks first. Delegated, so live-refreshed forms ask too.
function confirmations() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const question = button.dataset.confirm || (button.form && button.form.dataset.confirm);
    if (question && !window.confirm(question)) event.preventDefault();
  });
}

function selectAll() {
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.dataset || !box.dataset.selectAll) return;
    const form = box.closest("form");
    form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)
      .forEach((other) => { other.checked = box.checked; });
  });
}

refreshLiveRegions();
drawCharts();
confirmations();
selectAll();
