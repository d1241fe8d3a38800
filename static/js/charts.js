// Throughput charts (uPlot, served from static/vendor/uplot): time since the start on the x axis,
// items per second on the y axis. Drawn again whenever htmx swaps the progress panel in.
(function () {
  var STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  function seconds(value) {
    if (value < 90) return Math.round(value) + " s";
    var m = Math.floor(value / 60), s = Math.round(value % 60);
    return s ? m + " min " + s + " s" : m + " min";
  }
  function draw(node) {
    if (!window.uPlot || node.dataset.drawn) return;
    var data = JSON.parse(node.dataset.chart || "{}");
    if (!data.t || data.t.length < 2) return;
    node.dataset.drawn = "1";
    var width = Math.max(280, node.clientWidth || 600);
    var opts = {
      width: width,
      height: 200,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [
        // Ticks on whole seconds and minutes: a label never repeats ("2 s, 2 s" from 1.5 and 2.4).
        { label: "time since the start", incrs: STEPS, values: function (u, vals) { return vals.map(seconds); }, size: 40 },
        { label: "items/s", size: 50 }
      ],
      series: [{ label: "time" }, { label: "items/s", stroke: "#2d5bd7", width: 2, fill: "rgba(45,91,215,0.08)" }]
    };
    var plot = new window.uPlot(opts, [data.t, data.rate], node);
    // Follow the page's width when the window is resized (never wider than its card).
    window.addEventListener("resize", function () {
      if (!document.body.contains(node)) return;
      plot.setSize({ width: Math.max(280, node.clientWidth || 600), height: 200 });
    });
  }
  function drawAll(root) {
    (root || document).querySelectorAll(".throughput-chart").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
