// Starts Swagger UI on the /docs page. A file rather than an inline script, so that the page's
// Content-Security-Policy can refuse every inline script. The schema's address comes from the page.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  document.body.style.margin = "0";
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Swagger UI would otherwise show a badge image fetched from validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
