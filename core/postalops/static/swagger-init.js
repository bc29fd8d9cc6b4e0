// /api/v1/docs: Swagger UI 5 on the generated OpenAPI 3.1 document. "Try it out" runs with the
// signed-in user's session cookie, so writes carry the page's CSRF token like any portal form.
(function () {
  var root = document.getElementById("swagger-ui");
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (req) {
      if (meta && req.method && req.method.toUpperCase() !== "GET") {
        req.headers["X-CSRFToken"] = meta.content;
      }
      return req;
    },
  });
})();
