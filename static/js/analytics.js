/* Staff analytics charts. Data comes from the json_script block "analytics-data" (CSP: no inline JS).
   Every chart has the same figures in an accessible table next to it. */
(function () {
  "use strict";
  var source = document.getElementById("analytics-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  // Red means money lost or something failed, nothing else: refunds, cancelled orders.
  var colours = {
    gross: "#14213d",
    refunds: "#b91c1c",
    fees: "#d97706",
    payouts: "#0f766e",
    neutral: "#475569"
  };
  var statusColours = {
    pending: "#64748b",
    in_progress: "#14213d",
    delivered: "#6d28d9",
    completed: "#0f766e",
    disputed: "#d97706",
    cancelled: "#b91c1c"
  };
  var roleColours = ["#14213d", "#0f766e", "#6d28d9", "#64748b"];
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  window.Chart.defaults.animation = reduceMotion ? false : window.Chart.defaults.animation;
  window.Chart.defaults.maintainAspectRatio = false;
  if (window.matchMedia && window.matchMedia("(max-width: 575.98px)").matches) {
    window.Chart.defaults.plugins.legend.position = "bottom";
    window.Chart.defaults.plugins.legend.labels.boxWidth = 12;
  }

  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: data.currency });
  function major(minor) {
    return minor / (data.minor_per_major || 100);
  }

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      return new window.Chart(canvas, config);
    }
    return null;
  }

  var revenueSeries = [
    ["gross", "Gross"],
    ["refunds", "Refunds"],
    ["fees", "Platform fees"],
    ["payouts", "Coach payouts"]
  ];
  make("chart-revenue", {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: revenueSeries.map(function (pair) {
        return {
          label: pair[1],
          data: data.revenue[pair[0]].map(major),
          backgroundColor: colours[pair[0]],
          borderColor: colours[pair[0]],
          type: pair[0] === "gross" ? "bar" : "line",
          tension: 0.2,
          pointRadius: data.labels.length > 40 ? 0 : 3
        };
      })
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { offset: true },
        y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } }
      },
      plugins: {
        tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + money.format(ctx.parsed.y); } } }
      }
    }
  });

  make("chart-status", {
    type: "doughnut",
    data: {
      labels: data.orders_by_status.labels,
      datasets: [{
        data: data.orders_by_status.counts,
        backgroundColor: data.orders_by_status.statuses.map(function (s) { return statusColours[s] || colours.neutral; })
      }]
    },
    options: { plugins: { legend: { position: "right" } } }
  });

  make("chart-funnel", {
    type: "bar",
    data: {
      labels: data.conversion.labels,
      datasets: [{ label: "Count", data: data.conversion.counts, backgroundColor: colours.gross }]
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }
    }
  });

  make("chart-users", {
    type: "bar",
    data: {
      labels: data.new_users.labels,
      datasets: data.new_users.series.map(function (series, i) {
        return { label: series.label, data: series.counts, backgroundColor: roleColours[i % roleColours.length] };
      })
    },
    options: {
      scales: { x: { stacked: true, offset: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
    }
  });
})();
