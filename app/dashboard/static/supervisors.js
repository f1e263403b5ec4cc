// Skiplock dashboard, the Supervisors page: each supervisor's processes per queue per minute,
// one uPlot chart per [data-process-chart] element, one series per pool, refreshed every 10 s.
// Its own file (loaded by supervisors.html only), beside dashboard.js, under the same CSP.
"use strict";

const PROCESS_CHART_REFRESH_MS = 10000;
const POOL_COLOURS = ["#2f7ed8", "#5cb85c", "#f0ad4e", "#d9534f", "#8e44ad", "#16a085"];

async function drawProcessChart(element) {
  const query = new URLSearchParams({supervisor: element.dataset.processChart,
                                     window: element.dataset.window === "day" ? "day" : "hour"});
  const response = await fetch(`/supervisors/history?${query}`, {credentials: "same-origin"});
  if (!response.ok) return;
  const history = await response.json();
  const pools = Object.keys(history.pools);
  const data = [history.minute, ...pools.map((pool) => history.pools[pool])];
  if (element.uplot && element.uplot.series.length === pools.length + 1) {
    element.uplot.setData(data);
    return;
  }
  if (element.uplot) element.uplot.destroy();  // a pool came or went: new series
  const series = [{}, ...pools.map((pool, i) => ({
    label: pool, stroke: POOL_COLOURS[i % POOL_COLOURS.length], width: 2}))];
  const width = () => Math.max(element.clientWidth, 260);
  element.uplot = new uPlot({width: width(), height: 200, series, scales: {x: {time: true}}},
                            data, element);
  new ResizeObserver(() => element.uplot.setSize({width: width(), height: 200})).observe(element);
}

function drawProcessCharts() {
  const charts = document.querySelectorAll("[data-process-chart]");
  if (!charts.length || typeof uPlot === "undefined") return;
  const all = () => charts.forEach((chart) => drawProcessChart(chart).catch(() => {}));
  all();
  setInterval(() => { if (!document.hidden) all(); }, PROCESS_CHART_REFRESH_MS);
}

drawProcessCharts();
