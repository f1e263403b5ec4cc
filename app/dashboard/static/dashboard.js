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
  // What the server last sent, to compare the next copy with: the region itself holds the
  // scroll hints added here, and swapping it when nothing changed would reset its scrolling.
  regions.forEach((region) => { region.served = region.innerHTML; });
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
      if (replacement && replacement.innerHTML !== region.served) {
        const scrolled = [...region.querySelectorAll("table")].map((t) => t.scrollLeft);
        region.innerHTML = region.served = replacement.innerHTML;
        region.querySelectorAll("table").forEach((t, n) => { t.scrollLeft = scrolled[n] || 0; });
        markWideTables();
      }
    }
  }, REFRESH_MS);
}

// At a phone's width a wide table scrolls sideways (dashboard.css), but a touch screen shows
// no scrollbar until one scrolls: a line above each table that does says so.
function markWideTables() {
  document.querySelectorAll("main table").forEach((table, n) => {
    let hint = table.previousElementSibling;
    if (!hint || !hint.matches("[data-scroll-hint]")) {
      hint = document.createElement("p");
      hint.className = "scroll-hint";
      hint.textContent = "Scroll sideways for more columns →";
      table.before(hint);
    }
    hint.dataset.scrollHint = String(n);
    hint.hidden = table.scrollWidth <= table.clientWidth + 1;
  });
}

function wideTables() {
  markWideTables();
  window.addEventListener("resize", markWideTables);
}

// The charts read UTC in 24-hour time, as the tables beside them do.
const twoDigits = (n) => String(n).padStart(2, "0");
const utcClock = (s) => {
  const d = new Date(s * 1000);
  return `${twoDigits(d.getUTCHours())}:${twoDigits(d.getUTCMinutes())}`;
};
const utcMinute = (s) => `${new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
const TIME_AXIS = {
  tzDate: (s) => uPlot.tzDate(new Date(s * 1000), "Etc/UTC"),  // ticks on UTC hours
  axes: [{values: (u, splits) => splits.map(utcClock)}, {}],
};
const TIME_SERIES = {value: (u, s) => (s == null ? "-" : utcMinute(s))};

function seconds(values) {
  return values.map((v) => (v === null ? null : Math.round(v * 1000) / 1000));
}

const CHARTS = {
  throughput: (data) => ({
    series: [TIME_SERIES, {label: "processed", stroke: "#2f7ed8", width: 2},
             {label: "failed", stroke: "#d9534f", width: 2}],
    data: [data.minute, data.processed, data.failed],
  }),
  timing: (data) => ({
    series: [TIME_SERIES, {label: "runtime (s)", stroke: "#5cb85c", width: 2},
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
  element.uplot = new uPlot({...size, ...TIME_AXIS, series: made.series,
                             scales: {x: {time: true}}}, made.data, element);
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
wideTables();
drawCharts();
confirmations();
selectAll();
