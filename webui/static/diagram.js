// Draws each .diagram element with bpmn-js's NavigatedViewer and marks activities by id.
// data-active: highlighted (current); data-completed: marked as done. When drawn, the element
// gets data-rendered="true" (or data-error with the reason), which the browser tests wait for.
(function () {
  "use strict";

  function ids(text) {
    return (text || "").split(" ").filter(Boolean);
  }

  async function draw(container) {
    var viewer = new BpmnJS({ container: container });
    try {
      var response = await fetch(container.dataset.xmlUrl, { credentials: "same-origin" });
      if (!response.ok) {
        throw new Error("the diagram could not be loaded (HTTP " + response.status + ")");
      }
      await viewer.importXML(await response.text());
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      ids(container.dataset.completed).forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, "fd-completed");
      });
      ids(container.dataset.active).forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, "fd-active");
      });
      // Keep the whole process in view when the window (or a phone's orientation) changes.
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          canvas.resized();
          canvas.zoom("fit-viewport", "auto");
        }).observe(container);
      }
      container.dataset.rendered = "true";
    } catch (err) {
      container.dataset.error = String(err && err.message ? err.message : err);
      var message = document.createElement("p");
      message.className = "field-error";
      message.textContent = "The diagram cannot be shown: " + container.dataset.error;
      container.replaceChildren(message);
    }
  }

  document.querySelectorAll(".diagram[data-xml-url]").forEach(draw);
})();
