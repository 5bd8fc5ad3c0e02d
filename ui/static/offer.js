// Offer page basket. Without JavaScript every item's form posts to /x/checkout on its own;
// with it, the forms fill a basket that checks out in one go.
(function () {
  "use strict";
  var d = document, b = d.body, box = d.getElementById("basket");
  if (!box || !window.fetch) return;
  var list = box.querySelector("ul"), total = box.querySelector(".total"),
    msg = box.querySelector(".msg"), go = box.querySelector(".checkout");
  var exp = parseInt(b.getAttribute("data-exponent"), 10) || 0;
  var cur = (b.getAttribute("data-currency") || "").toUpperCase();
  var fmt = null;
  try { fmt = new Intl.NumberFormat("en-GB", { style: "currency", currency: cur }); } catch (e) { /* plain below */ }
  var items = [];
  var fallback = box.querySelector(".fallback"), mailto = box.querySelector(".fallback .support-email");
  var mailBase = mailto ? mailto.getAttribute("href").split("&body=")[0] : "";
  // The basket survives a reload, a failed checkout and a buyer coming back from Stripe's page
  // without paying: it is kept in this tab's sessionStorage (per link), and dropped by the
  // checkout success page once the order is paid.
  var key = "tf-basket:" + location.pathname, store = null;
  try { store = window.sessionStorage; store.getItem(key); } catch (e) { store = null; }

  function save() {
    if (!store) return;
    try {
      if (items.length) store.setItem(key, JSON.stringify(items.map(function (it) {
        return { product_code: it.product_code, quantity: it.quantity };
      })));
      else store.removeItem(key);
    } catch (e) { /* full or disabled: the basket still lives in the page */ }
  }

  function money(minor) {
    var v = minor / Math.pow(10, exp);
    return fmt ? fmt.format(v) : v.toFixed(exp) + " " + cur;
  }

  function render() {
    list.textContent = "";
    var sum = 0;
    items.forEach(function (it, i) {
      var li = d.createElement("li"), label = d.createElement("span"), rm = d.createElement("button");
      label.textContent = it.quantity + " × " + it.description + " — " + money(it.amount * it.quantity);
      rm.type = "button"; rm.className = "secondary"; rm.textContent = "Remove";
      rm.setAttribute("aria-label", "Remove " + it.description);
      rm.addEventListener("click", function () { items.splice(i, 1); render(); });
      li.appendChild(label); li.appendChild(rm); list.appendChild(li);
      sum += it.amount * it.quantity;
    });
    total.textContent = money(sum);
    box.hidden = items.length === 0;
    if (mailto) mailto.setAttribute("href", mailBase + "&body=" + encodeURIComponent("Hello, I would like to order:\r\n" +
      items.map(function (it) { return it.quantity + " × " + it.description + " (" + it.product_code + ")"; }).join("\r\n") + "\r\n"));
    save();
  }

  function add(f) {
    if (b.getAttribute("data-checkout") === "preview") return; // staff preview: buying is off
    var q = parseInt(f.elements.quantity.value, 10);
    if (!(q >= 1 && q <= 999)) { f.elements.quantity.reportValidity(); return; }
    var code = f.getAttribute("data-code");
    for (var i = 0; i < items.length; i++) {
      if (items[i].product_code === code) { items[i].quantity = Math.min(999, items[i].quantity + q); render(); return; }
    }
    items.push({ product_code: code, quantity: q, description: f.getAttribute("data-description"),
      amount: parseInt(f.getAttribute("data-amount"), 10) || 0 });
    render();
  }

  var forms = {};
  d.querySelectorAll("form.buy-form").forEach(function (f) {
    var btn = f.querySelector("button");
    if (btn) btn.textContent = "Add to basket";
    f.addEventListener("submit", function (e) { e.preventDefault(); add(f); });
    forms[f.getAttribute("data-code")] = f;
  });

  // Restore a kept basket: only items this page still sells, at this page's prices.
  if (store) {
    try {
      (JSON.parse(store.getItem(key) || "[]") || []).forEach(function (it) {
        var f = forms[it && it.product_code], q = parseInt(it && it.quantity, 10);
        if (!f || !(q >= 1 && q <= 999)) return;
        items.push({ product_code: it.product_code, quantity: q, description: f.getAttribute("data-description"),
          amount: parseInt(f.getAttribute("data-amount"), 10) || 0 });
      });
    } catch (e) { items = []; }
    if (items.length) render();
  }

  // A failed checkout keeps the basket and shows the other ways to order.
  function fail(text) { msg.textContent = text; go.disabled = false; if (fallback) fallback.hidden = false; }
  var unavailable = "Online checkout is not available just now. Your basket is kept: try again in a few minutes.";

  // Generic pages have no session: they check out through the no-JS route with the link.
  function submitForm() {
    var f = d.createElement("form");
    f.method = "post"; f.action = "/x/checkout"; f.hidden = true;
    function field(n, v) { var i = d.createElement("input"); i.type = "hidden"; i.name = n; i.value = v; f.appendChild(i); }
    field("t", b.getAttribute("data-token"));
    items.forEach(function (it) { field("product_code", it.product_code); field("quantity", String(it.quantity)); });
    d.body.appendChild(f);
    f.submit();
  }

  go.addEventListener("click", function () {
    if (!items.length) return;
    go.disabled = true; msg.textContent = "";
    if (b.getAttribute("data-checkout") !== "api") { submitForm(); return; }
    var body = { items: items.map(function (it) { return { product_code: it.product_code, quantity: it.quantity }; }) };
    if (b.getAttribute("data-offer")) body.offer_key = b.getAttribute("data-offer");
    if (b.getAttribute("data-campaign")) body.campaign_key = b.getAttribute("data-campaign");
    fetch("/api/checkout", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          // Server-side failures (Stripe down, checkout off) get a plain message, never internals.
          if (r.status >= 500 || (r.ok && !j.url)) throw new Error(unavailable);
          if (!r.ok) throw new Error(j.error || unavailable);
          window.location.assign(j.url);
        });
      })
      .catch(function (e) { fail(e instanceof TypeError || !e || !e.message ? unavailable : e.message); });
  });

  // Tool tabs: one tool's consumables at a time (without JS all are listed with anchors).
  var tabs = d.querySelectorAll(".tabs a");
  function show(id) {
    tabs.forEach(function (a) {
      var on = a.getAttribute("href") === "#" + id;
      a.className = on ? "on" : "";
      var s = d.getElementById(a.getAttribute("href").slice(1));
      if (s) s.hidden = !on;
    });
  }
  tabs.forEach(function (a) {
    a.addEventListener("click", function (e) { e.preventDefault(); show(a.getAttribute("href").slice(1)); });
  });
  if (tabs.length) show(tabs[0].getAttribute("href").slice(1));
})();
