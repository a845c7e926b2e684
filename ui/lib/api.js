/**
 * Calls to sipwarden's admin API with the session cookie. A 401 means the session ended
 * (expired, or the token changed): the browser goes back to the login page.
 */

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.assign('/login');
    throw new ApiError(401, 'signed out');
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok)
    throw new ApiError(response.status, typeof data.error === 'string' ? data.error : response.statusText);
  return data;
}

export const getJson = (path) => request('GET', path);
export const postJson = (path, body) => request('POST', path, body);
export const deleteJson = (path) => request('DELETE', path);
