// The API contract, browsable: Swagger UI (vendored, assets/vendor/) on the
// OpenAPI document the gateway serves. "Try it out" calls this origin's API,
// with a token pasted under "Authorize".
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
