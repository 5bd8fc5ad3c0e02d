// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var input = document.getElementById(b.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(function () { b.textContent = "Copied"; });
  }
});
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input.link")) e.target.select();
});
