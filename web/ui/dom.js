/*
 * dom.js: building the page. h() and svg() put every string in as a text
 * node or an attribute, never as HTML.
 */

const SVGNS = 'http://www.w3.org/2000/svg';
export const app = document.getElementById('app');

function setAttrs(el, attrs) {
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v == null || v === false)
      continue;
    if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2), v);
    else
      el.setAttribute(k, v === true ? '' : String(v));
  }
}

function addKids(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false)
      continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

/* Replace el's children with kids (nulls left out). */
export function fill(el, ...kids) {
  el.replaceChildren();
  return addKids(el, kids);
}

/* An HTML element: h('a', {href: '#/'}, 'text', child...). */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return addKids(el, kids);
}

/* An SVG element, the same way. */
export function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  return addKids(el, kids);
}
