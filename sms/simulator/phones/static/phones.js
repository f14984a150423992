// Both phones in the browser: a basic phone (USSD keypad and SMS) and a WhatsApp chat,
// driven through the simulator's own phone endpoints. Vanilla JS, no framework, nothing
// loaded from elsewhere. State lives in the simulator and the service; this only shows it.
(() => {
  "use strict";

  const POLL_MS = 2000;
  const ZOOMS = [87.5, 100, 112.5, 125, 150, 175, 200, 250];
  const enc = encodeURIComponent;

  // Text size, for projectors: kept across pages in this browser.
  const zoomAt = () => Math.max(0, ZOOMS.indexOf(Number(localStorage.getItem("phones.zoom")) || 100));
  const applyZoom = (i) => {
    const size = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, i))];
    document.documentElement.style.fontSize = size + "%";
    localStorage.setItem("phones.zoom", String(size));
  };
  applyZoom(zoomAt());
  document.querySelectorAll("[data-zoom]").forEach((b) =>
    b.addEventListener("click", () => applyZoom(zoomAt() + Number(b.dataset.zoom)))
  );

  const main = document.querySelector(".phones-page");
  if (!main) return;
  const phone = main.dataset.phone;
  const whatsapp = main.dataset.whatsapp;
  const $ = (id) => document.getElementById(id);

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const time = (iso) => {
    const d = iso ? new Date(iso) : null;
    return d && !isNaN(d) ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  };
  const postJson = (url, body) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  // ---- The basic phone: a USSD session as a handset runs it --------------------------
  const screen = $("screen-text");
  const typed = $("typed");
  const IDLE = `Ready\n${phone}\n\nDial a USSD code\nand press Call.`;
  const basic = { mode: "idle", typed: "", code: "", sessionId: "", inputs: [] };
  let keys = Promise.resolve(); // presses run in order, even while a hop is on its way

  const show = (text) => { screen.textContent = text; };
  const showTyped = () => { typed.textContent = basic.typed; };

  async function hop(inputs) {
    show("USSD code running…");
    let body = null;
    try {
      const res = await postJson(`/sim/phones/${enc(phone)}/ussd`, {
        service_code: basic.code, text: inputs.join("*"), session_id: basic.sessionId,
      });
      body = await res.json().catch(() => null);
      if (!res.ok || !body || body.service_status !== 200) body = null;
    } catch (_) { body = null; }
    basic.typed = "";
    if (body === null) {
      basic.mode = "ended";
      show("Connection problem\nor invalid MMI code.");
    } else if (body.text.startsWith("CON ")) {
      basic.mode = "session";
      basic.inputs = inputs;
      show(body.text.slice(4));
    } else {
      basic.mode = "ended";
      show(body.text.replace(/^END /, ""));
    }
  }

  async function handle(key) {
    if (key === "call") {
      if (basic.mode === "session") return hop([...basic.inputs, basic.typed]);
      const code = basic.typed;
      if (!/^\*[0-9*]+#$/.test(code)) {
        basic.mode = "idle";
        return show(code ? "Invalid MMI code." : "Type a USSD code,\ne.g. *384*2541#,\nthen press Call.");
      }
      Object.assign(basic, { code, sessionId: "ATUid_web_" + Math.random().toString(16).slice(2, 14), inputs: [] });
      return hop([]);
    }
    if (key === "end") {
      if (basic.mode === "idle" && basic.typed) basic.typed = "";
      else Object.assign(basic, { mode: "idle", typed: "", sessionId: "", inputs: [] });
      return show(IDLE);
    }
    if (key === "clear") { basic.typed = basic.typed.slice(0, -1); return; }
    if (basic.mode === "ended") { basic.mode = "idle"; show(IDLE); }
    if (basic.typed.length < 160) basic.typed += key;
  }
  const press = (key) => { keys = keys.then(() => handle(key)).then(showTyped); return keys; };

  $("keypad").addEventListener("click", (e) => {
    const key = e.target.closest("[data-key]");
    if (key) press(key.dataset.key);
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest("input, textarea, select, summary")) return;
    const onButton = e.target.closest("button, a");
    let key = null;
    if (/^[0-9*#]$/.test(e.key)) key = e.key;
    else if (e.key === "Enter" && !onButton) key = "call";
    else if (e.key === "Backspace") key = "clear";
    else if (e.key === "Escape") key = "end";
    if (key) { e.preventDefault(); press(key); }
  });
  $("codes").addEventListener("click", (e) => {
    const b = e.target.closest("[data-code]");
    if (!b) return;
    keys = keys.then(() => {
      if (basic.mode !== "session") { basic.mode = "idle"; basic.typed = b.dataset.code; show(IDLE); }
    }).then(showTyped);
  });

  // ---- SMS: the phone's inbox (polled) and a message to the short code --------------
  const inbox = $("inbox");
  let inboxSeen = "";
  async function pollInbox() {
    try {
      const res = await fetch(`/sim/inbox/${enc(phone)}`, { cache: "no-store" });
      if (!res.ok) return;
      const messages = (await res.json()).messages || [];
      const key = JSON.stringify(messages.map((m) => [m.id, m.status]));
      if (key === inboxSeen) return;
      inboxSeen = key;
      const items = messages.slice().reverse().map((m) => {
        const li = el("li");
        const meta = el("p", { class: "meta" }, `From ${m.from} · `);
        meta.append(el("time", { datetime: m.received_at }, time(m.received_at)));
        li.append(meta, el("p", { class: "body" }, m.text));
        return li;
      });
      inbox.replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No SMS yet.")]));
    } catch (_) { /* the next poll tries again */ }
  }
  $("sms-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("sms-text").value.trim(), to = $("sms-to").value.trim();
    const status = $("sms-status");
    if (!text || !to) { status.textContent = "Write a message and the number it goes to."; return; }
    status.textContent = "Sending…";
    try {
      const res = await postJson(`/sim/phones/${enc(phone)}/sms`, { text, to });
      const body = await res.json().catch(() => ({}));
      if (res.ok && body.service_status === 200) {
        status.textContent = `Sent to ${to}: “${text}”`;
        $("sms-text").value = "";
        setTimeout(pollInbox, 500);
      } else {
        status.textContent = `Not sent: ${body.error || "the service answered " + (body.service_status || res.status)}.`;
      }
    } catch (_) { status.textContent = "Not sent: the simulator cannot be reached."; }
  });

  // ---- The smartphone: the WhatsApp chat, when the simulator speaks WhatsApp --------
  // The chat as sms/simulator/whatsapp.py serves it: {phone, on_whatsapp, window_open,
  // messages: [{id, direction ("out": from the business, "in": from the phone), kind,
  // text, buttons (labels), template, url, status, at}]}. Tolerant of near shapes too
  // (from, body, [{id, title}] buttons, a list of options), so either side may grow.
  const chat = $("chat");
  let chatSeen = "";
  let waAvailable = true;
  const fromPhone = (m) => {
    if (typeof m.from_phone === "boolean") return m.from_phone;
    if (m.from) return m.from === whatsapp;
    const d = String(m.direction || "").toLowerCase();
    return ["inbound", "in", "mo", "incoming"].includes(d);
  };
  const label = (x) => (typeof x === "string" ? x : x.title || x.text || x.label || x.body || x.id || "");
  const TICKS = { sent: ["✓", "sent"], delivered: ["✓✓", "delivered"], read: ["✓✓", "read"], failed: ["!", "failed"] };
  const statusOf = (s) => {
    const v = String(s || "").toLowerCase();
    if (v.includes("read")) return "read";
    if (v.includes("fail") || v.includes("reject")) return "failed";
    if (v.includes("deliver") || v === "success") return "delivered";
    if (v === "received") return "delivered"; // the phone's own message, at the service
    if (v.includes("sent")) return "sent";
    return v ? "queued" : "";
  };

  async function reply(body, what) {
    const status = $("wa-status");
    status.textContent = `Sending ${what}…`;
    try {
      const res = await postJson(`/sim/phones/${enc(whatsapp)}/whatsapp`, body);
      if (res.status === 404 && !isJson(res)) return missing();
      const answer = await res.json().catch(() => ({}));
      status.textContent = res.ok ? `Sent ${what}.` : `Not sent: ${answer.error || res.status}.`;
      setTimeout(pollChat, 300);
      return res.ok;
    } catch (_) { status.textContent = "Not sent: the simulator cannot be reached."; return false; }
  }

  function bubble(m) {
    const mine = fromPhone(m);
    const div = el("div", { class: "bubble " + (mine ? "out" : "in") });
    div.append(el("p", { class: "visually-hidden" }, mine ? "You:" : "copline:"));
    const text = m.text ?? m.body ?? m.message ?? m.caption ?? "";
    if (text) div.append(el("p", { class: "text" }, String(text)));
    const link = m.media_url || m.url || m.document || m.link;
    const web = !link && !mine && String(text).match(/https?:\/\/[^\s]+[^\s.,;:!?)]/);
    if (web) {
      // WhatsApp previews a link in a message: its host, to tap.
      const card = el("p", { class: "doc preview" }, "🔗 ");
      card.append(el("a", { href: web[0], rel: "noopener" }, new URL(web[0]).host));
      div.append(card);
    }
    if (link) {
      const a = el("a", { href: String(link), rel: "noopener" }, m.filename || m.title || String(link));
      const doc = el("p", { class: "doc" }, "📄 ");
      doc.append(a);
      div.append(doc);
    }
    const items = m.list || m.options || m.items || (m.sections || []).flatMap((s) => s.rows || s.items || []);
    if (Array.isArray(items) && items.length) {
      const ol = el("ol", { class: "options" });
      items.forEach((item, i) => {
        const b = el("button", { type: "button" }, label(item));
        const id = typeof item === "object" && item.id;
        // Like a quick reply: the option, and the message it is under.
        const body = { button: String(id || label(item)) };
        if (m.id) body.message = String(m.id);
        b.addEventListener("click", () => reply(body, `“${label(item)}”`));
        const li = el("li");
        li.append(b);
        ol.append(li);
      });
      div.append(ol);
    }
    const buttons = m.buttons || m.quick_replies || m.actions;
    if (Array.isArray(buttons) && buttons.length && !mine) {
      const group = el("div", { class: "quick", role: "group", "aria-label": "Quick replies" });
      for (const btn of buttons) {
        const b = el("button", { type: "button" }, label(btn));
        const id = typeof btn === "object" && (btn.id || btn.payload);
        // The message the button is under goes with it: that is the one it answers.
        const body = { button: String(id || label(btn)) };
        if (m.id) body.message = String(m.id);
        b.addEventListener("click", () => reply(body, `“${label(btn)}”`));
        group.append(b);
      }
      div.append(group);
    }
    const meta = el("p", { class: "meta" });
    if (m.template) meta.append(el("span", { class: "template" }, `template ${m.template} · `));
    meta.append(el("time", { datetime: m.received_at || m.sent_at || m.at || "" }, time(m.received_at || m.sent_at || m.at)));
    const st = statusOf(m.status);
    if (st) {
      const [mark, word] = TICKS[st] || ["🕓", "waiting"];
      meta.append(" ", el("span", { class: "ticks " + st, role: "img", "aria-label": word }, mark));
    }
    div.append(meta);
    return div;
  }

  const isJson = (res) => (res.headers.get("content-type") || "").includes("json");
  function missing() {
    waAvailable = false;
    $("wa-missing").hidden = false;
    chat.hidden = true;
    $("wa-status").textContent = "";
    for (const c of $("wa-form").elements) c.disabled = true;
  }
  async function pollChat() {
    if (!waAvailable) return;
    try {
      const res = await fetch(`/sim/whatsapp/${enc(whatsapp)}`, { cache: "no-store" });
      if (res.status === 404 && !isJson(res)) return missing();
      const body = res.ok ? await res.json() : { messages: [] };
      const messages = Array.isArray(body) ? body : body.messages || body.chat || [];
      $("wa-absent").hidden = body.on_whatsapp !== false;
      const key = JSON.stringify(messages);
      if (key === chatSeen) return;
      chatSeen = key;
      const atBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40;
      chat.replaceChildren(...(messages.length ? messages.map(bubble) : [el("p", { class: "empty" }, "No WhatsApp messages yet.")]));
      if (atBottom || messages.length < 4) chat.scrollTop = chat.scrollHeight;
    } catch (_) { /* the next poll tries again */ }
  }
  $("wa-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("wa-text"), text = input.value.trim();
    if (text && (await reply({ text }, `“${text}”`))) input.value = "";
  });

  // ---- Codes and numbers the simulator has met, refreshed when the page comes back --
  async function refreshCodes() {
    try {
      const res = await fetch("/sim/phones/known", { cache: "no-store" });
      if (!res.ok) return;
      const known = await res.json();
      const list = $("codes");
      const now = [...list.querySelectorAll("[data-code]")].map((b) => b.dataset.code);
      if (JSON.stringify(now) !== JSON.stringify(known.service_codes)) {
        list.replaceChildren(...known.service_codes.map((code) => {
          const li = el("li");
          li.append(el("button", { type: "button", "data-code": code }, code));
          return li;
        }));
      }
      const options = $("known-phones");
      if (options) {
        options.replaceChildren(...known.phones.map((p) =>
          el("option", { value: p.phone }, p.name ? `${p.name}, ${p.who}` : p.phone)));
      }
    } catch (_) { /* kept as served */ }
  }

  const pollAll = () => { pollInbox(); pollChat(); };
  setInterval(() => { if (!document.hidden) pollAll(); }, POLL_MS);
  window.addEventListener("focus", () => { pollAll(); refreshCodes(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) pollAll(); });
  show(IDLE);
  pollAll();
})();
