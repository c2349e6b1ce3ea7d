/* Campaign change page: live preview while staff type, and progress while a campaign sends.
   Plain DOM, no libraries: the admin must work without anything from outside the server. */
(function () {
  "use strict";

  var PREVIEW_DELAY_MS = 350; // wait for a pause in typing before recounting the audience
  var PROGRESS_EVERY_MS = 2000;
  var SCHEDULED_EVERY_MS = 15000; // a scheduled campaign only needs to notice that it has started

  function $(root, name, attr) {
    return root.querySelector("[data-" + (attr || "preview") + '="' + name + '"]');
  }
  function setText(el, text) {
    if (el) el.textContent = text;
  }
  function number(n) {
    return Number(n).toLocaleString();
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- live preview --------------------------------------------------------------

  function setupPreview(panel) {
    var form = document.getElementById("campaign_form");
    if (!form) return;
    var timer = null;
    var inFlight = null;
    var sequence = 0;

    // The admin's tag picker (filter_horizontal) replaces select#id_tags with two boxes once the page
    // has loaded: #id_tags_from (available) and #id_tags_to (chosen, which keeps the name "tags").
    // It marks the chosen options as selected only on submit, and its filter box hides options from
    // the DOM, so the chosen tags are read from the picker's own list (SelectBox.cache) when it has one.
    function chosenTags() {
      var to = document.getElementById("id_tags_to");
      if (!to) return null; // no picker (yet): FormData already has the plain select's choice
      var cache = window.SelectBox && window.SelectBox.cache && window.SelectBox.cache[to.id];
      var nodes = cache || Array.prototype.slice.call(to.options);
      return nodes.map(function (o) { return o.value; });
    }

    function formData() {
      var data = new FormData(form);
      var tags = chosenTags();
      if (tags) {
        data.delete("tags");
        tags.forEach(function (value) { data.append("tags", value); });
      }
      if (panel.dataset.campaignId) data.append("campaign_id", panel.dataset.campaignId);
      return data;
    }

    function refresh() {
      var mine = ++sequence;
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      panel.classList.add("is-loading");
      setText($(panel, "state"), "updating…");
      fetch(panel.dataset.previewUrl, {
        method: "POST",
        body: formData(),
        credentials: "same-origin",
        headers: { "X-Requested-With": "XMLHttpRequest" },
        signal: inFlight.signal,
      })
        .then(function (r) {
          if (!r.ok) throw new Error("The preview is unavailable (" + r.status + ").");
          return r.json();
        })
        .then(function (data) {
          if (mine !== sequence) return; // an older answer arriving late
          render(panel, data);
          setText($(panel, "state"), "");
          panel.classList.remove("is-loading");
          panel.dataset.updated = String(mine);
        })
        .catch(function (error) {
          if (error.name === "AbortError") return;
          showErrors(panel, [error.message]);
          setText($(panel, "state"), "");
          panel.classList.remove("is-loading");
        });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, PREVIEW_DELAY_MS);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    // Moving a tag between the picker's boxes fires no input event: watch the chosen box instead.
    // The picker is built on window load, after this runs.
    function watchPicker() {
      var to = document.getElementById("id_tags_to");
      if (to && window.MutationObserver) new MutationObserver(schedule).observe(to, { childList: true });
      if (to) schedule();
    }
    if (document.readyState === "complete") watchPicker();
    else window.addEventListener("load", watchPicker);
    refresh();
  }

  function showErrors(panel, list) {
    var box = $(panel, "errors");
    box.textContent = list.join(" ");
    box.hidden = list.length === 0;
  }

  function render(panel, data) {
    var errors = [];
    Object.keys(data.errors || {}).forEach(function (field) {
      data.errors[field].forEach(function (m) { errors.push(field.replace("_", " ") + ": " + m); });
    });
    showErrors(panel, errors);
    // Numbers from the last good answer stay visible but dimmed, so nobody reads them as current.
    panel.classList.toggle("is-stale", !data.ok);
    if (data.hint) setText($(panel, "text"), data.hint);
    if (!data.ok) return;

    setText($(panel, "text"), data.text || data.hint || "");
    setText($(panel, "sample"), data.sample);
    setText($(panel, "characters"), number(data.characters));
    setText($(panel, "encoding"), data.encoding);
    setText($(panel, "segments"), number(data.segments));
    var warning = $(panel, "non-gsm");
    if (data.non_gsm.length) {
      warning.textContent = "UCS-2 because of: " + data.non_gsm.map(function (c) {
        return "“" + c + "” (U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + ")";
      }).join(", ") + ". Replace them to fit more characters per segment.";
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }

    var audience = data.audience;
    var excludedTotal = 0;
    var rows = $(panel, "excluded");
    rows.replaceChildren();
    data.excluded_rows.forEach(function (row) {
      excludedTotal += row.count;
      var tr = el("tr", "campaign-audience__reason");
      tr.dataset.reason = row.reason;
      var th = el("th", "", row.label);
      th.scope = "row";
      tr.append(th, el("td", "", number(row.count)));
      rows.append(tr);
    });
    setText($(panel, "sendable"), number(audience.sendable));
    setText($(panel, "excluded-total"), number(excludedTotal));
    setText($(panel, "total"), number(audience.total));
    renderAudienceBar($(panel, "audience-bar"), audience, data.excluded_rows);

    setText($(panel, "cost"), data.cost.display);
    setText($(panel, "cost-formula"),
      data.segments + " segment(s) × " + number(audience.sendable) + " sendable × " +
      data.cost.price_per_segment + " " + data.cost.currency + " per segment");
  }

  function renderAudienceBar(bar, audience, excludedRows) {
    bar.replaceChildren();
    if (!audience.total) return;
    var parts = [{ key: "sendable", count: audience.sendable }].concat(
      excludedRows.map(function (r) { return { key: r.reason, count: r.count }; }));
    parts.forEach(function (p) {
      if (!p.count) return;
      var span = el("span", "campaign-audience-bar__part campaign-reason--" + p.key);
      span.style.width = (100 * p.count / audience.total) + "%";
      bar.append(span);
    });
  }

  // ---- progress --------------------------------------------------------------------

  function setupProgress(section) {
    var initial = document.getElementById("campaign-progress-data");
    var pageStatus = section.dataset.status;
    if (initial) renderProgress(section, JSON.parse(initial.textContent));

    function poll() {
      fetch(section.dataset.progressUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error(String(r.status))); })
        .then(function (data) {
          renderProgress(section, data);
          if (data.status !== pageStatus) {
            // The buttons that make sense changed (e.g. sending → completed): redraw the page.
            window.location.reload();
            return;
          }
          if (!data.finished) setTimeout(poll, data.status === "scheduled" ? SCHEDULED_EVERY_MS : PROGRESS_EVERY_MS);
        })
        .catch(function () { setTimeout(poll, PROGRESS_EVERY_MS * 3); });
    }
    if (!(initial && JSON.parse(initial.textContent).finished)) setTimeout(poll, PROGRESS_EVERY_MS);
  }

  function renderProgress(section, data) {
    var total = data.total || 0;
    Object.keys(data.buckets).forEach(function (bucket) {
      var n = data.buckets[bucket];
      var part = section.querySelector('[data-bucket="' + bucket + '"]');
      if (part) part.style.width = total ? (100 * n / total) + "%" : "0";
      setText(section.querySelector('[data-count="' + bucket + '"]'), number(n));
    });
    setText($(section, "percent", "progress"), data.percent + "%");
    setText($(section, "status", "progress"), data.status_display);
    setText($(section, "total", "progress"), number(total));
    var bar = $(section, "bar", "progress");
    bar.setAttribute("aria-valuenow", data.percent);
    section.dataset.finished = data.finished ? "true" : "false";

    var results = $(section, "results", "progress");
    results.hidden = !data.finished;
    if (data.finished) renderChart(section, data);
  }

  function renderChart(section, data) {
    var chart = $(section, "chart", "progress");
    chart.replaceChildren();
    var max = Math.max.apply(null, Object.values(data.buckets).concat([1]));
    Object.keys(data.buckets).forEach(function (bucket) {
      var n = data.buckets[bucket];
      var row = el("div", "campaign-chart__row");
      var label = el("span", "campaign-chart__label", data.labels[bucket]);
      var track = el("span", "campaign-chart__track");
      var fill = el("span", "campaign-chart__fill campaign-bucket--" + bucket);
      fill.style.width = (100 * n / max) + "%";
      track.append(fill);
      row.append(label, track, el("span", "campaign-chart__value", number(n)));
      chart.append(row);
    });
    var reasons = $(section, "skip-reasons", "progress");
    reasons.replaceChildren();
    (data.skip_reasons || []).forEach(function (r) {
      reasons.append(el("li", "", r.reason + ": " + number(r.count)));
    });
    $(section, "skip-reasons-box", "progress").hidden = !(data.skip_reasons || []).length;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("campaign-preview");
    if (panel) setupPreview(panel);
    var progress = document.getElementById("campaign-progress");
    if (progress) setupProgress(progress);
  });
})();
