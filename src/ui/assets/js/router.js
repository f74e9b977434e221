// The page's screens are addressed by the URL's hash (#/, #/state/<id>, #/state/<id>/edit,
// #/state/<id>/history); `go` moves there, or renders again when already there.

let render = () => {};

/** @param {() => void} renderer */
export function setRenderer(renderer) {
  render = renderer;
}

/** @param {string} hash */
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}
