// The example page's own script: listen to the first element's step events, as a course page might.
const first = document.getElementById('first');
const status = document.getElementById('first-status');
first.addEventListener('lguest-sim:step', (e) => {
  status.textContent = `The first walkthrough is at step ${e.detail.position} of ${e.detail.total}.`;
});
