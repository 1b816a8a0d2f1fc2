// The course page's own script: it records the order of the walkthroughs' events, as a page that waits for
// `lguest-sim:ready` before listening to steps would rely on.
window.__events = [];
for (const type of ['lguest-sim:ready', 'lguest-sim:step', 'lguest-sim:error']) {
  document.addEventListener(type, (e) => window.__events.push(`${e.target.id || e.target.getAttribute('lesson')} ${type.slice(11)} ${e.detail.position ?? ''}`));
}
