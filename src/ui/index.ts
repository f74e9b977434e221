// The state management web UI: `startUiServer` serves the page and its JSON API for one storage.
export { startUiServer, type UiServer, type UiServerOptions } from './server.js';
