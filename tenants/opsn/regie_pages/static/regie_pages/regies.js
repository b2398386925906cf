// Progressive enhancement of the régies' pages: every page works without it.
(function () {
  "use strict";

  // « Imprimer »: hidden without JavaScript (it needs window.print()).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  function parse(text) {
    var value = parseFloat(String(text || "").replace(/[\s\u00a0\u202f€]/g, "").replace(",", "."));
    return isNaN(value) ? 0 : value;
  }
  function french(value) { return value.toFixed(2).replace(".", ","); }

  // The counter: the amount follows the invoices ticked and the product sold, until the
  // agent types an amount of their own.
  var form = document.querySelector("form[data-counter]");
  if (form) {
    var amount = form.querySelector("[name=amount]");
    var typed = false;
    amount.addEventListener("input", function () { typed = true; });
    var recompute = function () {
      if (typed) { return; }
      var total = 0;
      form.querySelectorAll("input[name=invoices]").forEach(function (box) {
        if (box.checked) {
          var part = form.querySelector("[name=alloc_" + box.value + "]");
          total += parse(part ? part.value : box.dataset.remaining);
        }
      });
      var product = form.querySelector("[name=product]");
      if (product && product.value) {
        var option = product.options[product.selectedIndex];
        var quantity = form.querySelector("[name=quantity]");
        total += parse(option.dataset.price) * parse(quantity ? quantity.value || "1" : "1");
      }
      amount.value = total > 0 ? french(Math.round(total * 100) / 100) : "";
    };
    form.addEventListener("change", function (event) {
      if (event.target !== amount) { recompute(); }
    });
    form.querySelectorAll("[name^=alloc_], [name=quantity]").forEach(function (input) {
      input.addEventListener("input", recompute);
    });

    // Only the details the chosen mode needs (cheque number and bank, terminal ticket…).
    var showDetails = function () {
      var checked = form.querySelector("input[name=mode]:checked");
      form.querySelectorAll("[data-mode]").forEach(function (block) {
        block.hidden = !checked || block.dataset.mode !== checked.value;
      });
    };
    form.querySelectorAll("input[name=mode]").forEach(function (radio) {
      radio.addEventListener("change", showDetails);
    });
    showDetails();
  }
})();

// Printing a batch of invoices: the progress bar follows the job until the PDF is ready.
(function () {
  "use strict";
  var bars = document.querySelectorAll("progress[data-progress]");
  if (!bars.length) { return; }
  function poll() {
    var pending = 0;
    bars.forEach(function (bar) {
      if (!bar.dataset.progress) { return; }
      pending += 1;
      fetch(bar.dataset.progress, {headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (state) {
          bar.value = state.percent;
          bar.textContent = state.percent + " %";
          var label = bar.parentNode.querySelector("[data-progress-label]");
          if (label) { label.textContent = state.label.charAt(0).toUpperCase() + state.label.slice(1) + " : " + state.done + " / " + state.total; }
          if (state.status === "done" || state.status === "failed") { window.location.reload(); }
        })
        .catch(function () {});
    });
    if (pending) { window.setTimeout(poll, 2000); }
  }
  window.setTimeout(poll, 1000);
})();
