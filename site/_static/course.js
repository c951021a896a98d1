// Course site: show an embedded widget's static twin until the widget has drawn itself.
// The widget manager (served from _static/vendor) draws each widget into a
// .widget-subarea beside its <script type="application/vnd.jupyter.widget-view+json">.
(function () {
  function check() {
    document.querySelectorAll(".lm-widget").forEach(function (box) {
      var area = box.querySelector(".lm-widget-live .widget-subarea");
      var drawn = area && area.offsetHeight > 40 &&
        !area.querySelector(".jupyter-widgets-error-widget, .widget-error");
      box.classList.toggle("lm-live", !!drawn);
    });
  }
  window.addEventListener("load", function () {
    if (!document.querySelector(".lm-widget")) return;
    var observer = new MutationObserver(check);
    observer.observe(document.body, {childList: true, subtree: true});
    check();
  });
})();
