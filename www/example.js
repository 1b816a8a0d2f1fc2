// The example page's own script: listen to the first element's step events, as a course page might.
const first = document.getElementById('first');
const status = document.getElementById('first-status');
first.addEventListener('lguest-sim:step', (e) => {
  status.textContent = `The first walkthrough is at step ${e.detail.position} of ${e.detail.total}.`;
});

// The fourth element, stepped one Guest instruction at a time by the page's own buttons.
const guest = document.getElementById('guest');
document.getElementById('guest-back').addEventListener('click', () => guest.backInstruction());
document.getElementById('guest-start').addEventListener('click', () => guest.instruction(0));
