// The web chat's script (ui.py runs it once when the page loads).
// Markers in the chat are <a href="#cite-A-N"> links. The page has <base href="./">, so following such a
// link natively can reload the page when the URL has a query string; intercept it and scroll instead.
// The sources panel holds every answer's sources, the latest shown: a marker of an older answer shows
// that answer's sources. The chat's copy buttons (the only per-message buttons enabled) would copy a
// message's HTML; copy the answer as plain text with its sources instead (kept hidden in the panel).
if (!window.__ragClicks) {
  window.__ragClicks = true;
  const copied = "已复制 / Copied";
  async function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");  // plain http on a LAN: no Clipboard API
    area.value = text;
    area.style.position = "fixed";
    area.style.left = "-9999px";
    document.body.append(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  }
  function plainText(row) {
    const reply = row ? row.querySelector(".rag-reply") : null;
    const answer = reply ? /rag-answer-(\d+)/.exec(reply.className) : null;
    const stored = answer ? document.querySelector(`#rag-sources .rag-answer-${answer[1]} .rag-copy-text`) : null;
    if (stored) return stored.textContent;
    const content = row ? row.querySelector(".message-content") : null;  // questions, error messages
    return content ? content.innerText.trim() : "";
  }
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const copy = target ? target.closest("#rag-chat .message-buttons button") : null;
    if (copy) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const buttons = copy.closest(".message-buttons");
      writeClipboard(plainText(buttons ? buttons.previousElementSibling : null)).then(() => {
        const label = copy.getAttribute("aria-label");
        copy.classList.add("rag-copied");
        copy.setAttribute("aria-label", copied);
        copy.title = copied;
        setTimeout(() => { copy.classList.remove("rag-copied"); copy.setAttribute("aria-label", label); copy.title = label; }, 2000);
      });
      return;
    }
    const link = target ? target.closest('a[href^="#cite-"]') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    const part = card.closest(".rag-answer-sources");
    if (part && part.parentElement) {
      part.parentElement.classList.add("rag-picked");
      for (const other of part.parentElement.children) other.classList.toggle("rag-shown", other === part);
    }
    document.querySelectorAll(".rag-source.rag-active").forEach((el) => el.classList.remove("rag-active"));
    card.classList.add("rag-active");
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
  }, true);
}
