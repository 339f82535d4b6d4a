// The inbox, live: new messages and status changes arrive as Server-Sent Events and are put in place
// without a reload. Every text from a message is set with textContent, never parsed as markup. Without
// this script the pages work as they are: a reload shows what is new.
"use strict";

(() => {
  const section = document.querySelector("[data-inbox-events]");
  if (!section || !("EventSource" in window)) return;
  const list = document.querySelector("[data-conversations]");
  const thread = document.querySelector("[data-messages]");
  const openConversation = section.dataset.conversationId || null;
  const liveStatus = section.querySelector("[data-live-status]");

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  // Only the console's own paths, or web addresses, become links or images.
  const isConsolePath = (href) => typeof href === "string" && href.startsWith("/console/");
  const isWebAddress = (href) => typeof href === "string" && /^https?:\/\//i.test(href);

  const say = (text) => {
    if (liveStatus && text) liveStatus.textContent = text;
  };

  function updateConversation(event) {
    const conversation = event.conversation;
    if (!list || !conversation) return;
    let item = list.querySelector(`[data-conversation-id="${CSS.escape(conversation.id)}"]`);
    if (!item) {
      item = element("li", "conversation");
      item.dataset.conversationId = conversation.id;
      const link = element("a", "contact");
      if (isConsolePath(conversation.href)) link.href = conversation.href;
      link.append(element("span", "name", ""), " ", element("span", "number muted", conversation.number));
      link.firstChild.dataset.name = "";
      const preview = element("span", "preview");
      preview.dataset.preview = "";
      const time = element("time");
      time.dataset.time = "";
      const windowText = element("span", "window");
      windowText.dataset.window = "";
      const unread = element("span", "badge unread-count");
      unread.dataset.unread = "";
      item.append(link, " ", preview, " ", time, " ", windowText, " ", unread);
    }
    item.querySelector("[data-name]").textContent = conversation.name;
    item.querySelector("[data-preview]").textContent = conversation.preview;
    item.querySelector("[data-time]").textContent = conversation.time;
    const windowText = item.querySelector("[data-window]");
    windowText.textContent = conversation.window;
    const unread = item.querySelector("[data-unread]");
    unread.textContent = conversation.unread_text;
    unread.hidden = !conversation.unread;
    item.classList.toggle("unread", conversation.unread > 0);
    // A new message moves its conversation to the top; a status change of an older one does not.
    if (conversation.last_message_id === event.id && list.firstElementChild !== item) list.prepend(item);
    else if (!item.parentNode) list.prepend(item);
  }

  function setStatus(container, event) {
    const status = container.querySelector("[data-status]");
    if (!status) return;
    status.className = `status status-${event.status}`;
    status.querySelector("[data-symbol]").textContent = event.symbol;
    status.querySelector("[data-status-text]").textContent = event.status_text;
    status.querySelector("[data-failure]").textContent = event.failure ? `: ${event.failure}` : "";
  }

  function newMessage(event) {
    const item = element("li", `message ${event.direction === "inbound" ? "inbound" : "outbound"}`);
    item.id = `message-${event.id}`;
    item.dataset.messageId = event.id;
    if (event.text) item.append(element("p", "message-text", event.text));
    for (const media of event.media || []) {
      if (media.is_image && isConsolePath(media.href)) {
        const link = element("a");
        link.href = media.href;
        const image = element("img", "media-preview");
        image.src = media.href;
        image.alt = media.label;
        link.append(image);
        item.append(link);
      } else if (isConsolePath(media.href) || isWebAddress(media.href)) {
        const paragraph = element("p");
        const link = element("a", "", media.label);
        link.href = media.href;
        link.rel = "noopener noreferrer";
        paragraph.append(link);
        item.append(paragraph);
      }
    }
    const meta = element("p", "meta");
    const time = element("time", "", event.time);
    time.dateTime = event.datetime;
    meta.append(time, " ");
    if (event.direction === "outbound") {
      const status = element("span");
      status.dataset.status = "";
      const symbol = element("span", "tick");
      symbol.dataset.symbol = "";
      symbol.setAttribute("aria-hidden", "true");
      const text = element("span");
      text.dataset.statusText = "";
      const failure = element("span");
      failure.dataset.failure = "";
      status.append(symbol, " ", text, failure);
      meta.append(status, " ");
    }
    if (isConsolePath(event.details_href)) {
      const details = element("a", "details", event.details_text);
      details.href = `${event.details_href}?conversation=${encodeURIComponent(openConversation)}`;
      meta.append(details);
    }
    item.append(meta);
    setStatus(item, event);
    return item;
  }

  function updateThread(event) {
    if (!thread || !event.conversation || event.conversation.id !== openConversation) return;
    const existing = document.getElementById(`message-${event.id}`);
    if (existing) setStatus(existing, event);
    else thread.append(newMessage(event));
  }

  const source = new EventSource(section.dataset.inboxEvents);
  source.addEventListener("open", () => say(liveStatus && liveStatus.dataset.liveText));
  source.addEventListener("message", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    updateConversation(event);
    updateThread(event);
  });
  source.addEventListener("signed-out", (message) => {
    source.close();
    const here = window.location.pathname + window.location.search;
    const signIn = isConsolePath(message.data) ? message.data : "/console/login";
    window.location.assign(`${signIn}?next=${encodeURIComponent(here)}`);
  });
  source.addEventListener("reload", () => {
    source.close();
    window.location.reload();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) say(liveStatus && liveStatus.dataset.stoppedText);
  });
})();
