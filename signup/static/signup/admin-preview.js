// Live preview on the program change page: re-renders the disclosure and texts as staff type.
"use strict";
(function () {
  const panel = document.getElementById("program-preview");
  if (!panel) return;
  const form = panel.closest("form");
  const body = panel.querySelector(".program-preview-body");
  const fields = ["brand", "name", "description", "frequency_text", "help_contact", "terms_url", "privacy_url",
                  "double_opt_in"];
  let timer = null;
  let latest = 0;

  function query() {
    const params = new URLSearchParams();
    for (const name of fields) {
      const el = form.elements[name];
      if (!el) continue;
      params.set(name, el.type === "checkbox" ? (el.checked ? "1" : "") : el.value);
    }
    return params.toString();
  }

  function refresh() {
    const request = ++latest;
    fetch(panel.dataset.previewUrl + "?" + query(), {credentials: "same-origin"})
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // Answers can arrive out of order; only the newest one is shown.
        if (request === latest) body.innerHTML = html;
      })
      .catch(() => {
        if (request === latest) body.setAttribute("aria-busy", "false");
      });
  }

  function schedule(event) {
    if (event.target && fields.includes(event.target.name)) {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    }
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  refresh();
})();
