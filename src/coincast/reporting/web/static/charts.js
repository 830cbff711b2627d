// Draw every figure of the page: <script type="application/json" class="figure"> holds a
// plotly figure; data-target names the div it is drawn into. No inline scripts (CSP).
document.querySelectorAll("script.figure").forEach(function (el) {
  var figure = JSON.parse(el.textContent);
  Plotly.newPlot(el.dataset.target, figure.data, figure.layout, {responsive: true, displaylogo: false});
});
