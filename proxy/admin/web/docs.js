// Starts Swagger UI on /openapi.json. When the console in this tab already
// holds the admin token, the explorer is authorized with it from the start.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: () => {
      const token = sessionStorage.getItem("streamgate.adminToken");
      if (token) ui.preauthorizeApiKey("adminToken", token);
    },
  });
  window.ui = ui;
});
