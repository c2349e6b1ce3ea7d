// The development phone: send without a reload, and poll the thread so texts sent by a worker appear by themselves.
(function () {
  "use strict";
  const POLL_MS = 2000;
  const root = document.getElementById("devphone");
  const thread = document.getElementById("devphone-thread");
  if (!root || !thread || !root.dataset.number) return;
  const scroller = document.getElementById("devphone-scroll");
  const form = document.getElementById("devphone-compose");
  const status = document.getElementById("devphone-status");
  const threadUrl = root.dataset.threadUrl + "?number=" + encodeURIComponent(root.dataset.number);
  let timer = null;

  function element(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();  // rendered and escaped by the server's template
    return holder.content.firstElementChild;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function show(messages) {
    const follow = nearBottom();
    let added = false;
    const keys = new Set(messages.map((m) => m.key));
    thread.querySelectorAll("li").forEach((li) => {
      if (!keys.has(li.dataset.key)) li.remove();  // the empty-thread note, or a text past the limit
    });
    messages.forEach((message) => {
      const current = thread.querySelector('li[data-key="' + CSS.escape(message.key) + '"]');
      const fresh = element(message.html);
      if (!current) {
        thread.appendChild(fresh);
        added = true;
      } else if (current.outerHTML !== fresh.outerHTML) {
        current.replaceWith(fresh);  // a status moved on (sent, delivered…)
      }
    });
    if (added && follow) scroller.scrollTop = scroller.scrollHeight;
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const answer = await fetch(threadUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (answer.ok) show((await answer.json()).messages);
    } catch (error) {
      // The server restarting: try again at the next tick.
    }
    timer = setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form, event.submitter);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    status.textContent = "Sending…";
    try {
      const answer = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      const result = await answer.json();
      if (result.ok) {
        status.textContent = "Sent “" + result.sent + "”.";
        form.elements.body.value = "";
      } else {
        status.textContent = result.error;
      }
    } catch (error) {
      status.textContent = "The server did not answer; is it running?";
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      form.elements.body.focus();
      poll();
    }
  });

  scroller.scrollTop = scroller.scrollHeight;
  timer = setTimeout(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
})();
