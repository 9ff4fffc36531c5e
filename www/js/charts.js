// Thin helpers around uPlot: consistent look, responsive width, one place to recreate a chart.

export const PALETTE = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b',
  '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#ad494a',
];

const HEIGHT = 260;

function chartWidth(container) {
  return Math.max(260, Math.floor(container.clientWidth || container.parentElement.clientWidth || 320));
}

// Replaces whatever chart `container` holds with a line chart of `data` (uPlot's aligned format).
// `logY` draws y on a log10 axis (non-positive values are left out).
export function lineChart(container, { xLabel, yLabel, series, data, yRange, logY = false }) {
  container.__chart?.destroy();
  const y = logY ? { distr: 3, log: 10 } : {};
  if (yRange) y.range = yRange;
  const plotted = logY ? [data[0], ...data.slice(1).map((ys) => ys.map((v) => (v > 0 ? v : null)))] : data;
  const options = {
    width: chartWidth(container),
    height: HEIGHT,
    scales: { x: { time: false }, y },
    axes: [
      { label: xLabel },
      logY
        ? { label: yLabel, values: (u, splits) => splits.map((v) => (v == null ? '' : v >= 0.01 ? String(v) : v.toExponential(0))) }
        : { label: yLabel },
    ],
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: xLabel },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: true,
        dash: s.dash,
      })),
    ],
  };
  container.__chart = new window.uPlot(options, plotted, container);
  container.dataset.drawn = String(Number(container.dataset.drawn ?? 0) + 1);
  return container.__chart;
}

export function keepChartsSized() {
  let pending = false;
  addEventListener('resize', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const container of document.querySelectorAll('[data-chart]')) {
        container.__chart?.setSize({ width: chartWidth(container), height: HEIGHT });
      }
    });
  });
}
