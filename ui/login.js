// Shows why the server sent the browser back to the login page (?failed or ?limited).
const params = new URLSearchParams(location.search);
for (const reason of ['failed', 'limited']) {
  if (params.has(reason)) document.getElementById(`login-${reason}`).hidden = false;
}
