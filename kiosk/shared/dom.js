// Building a page's elements: $ by id, el() for HTML, svg() for charts.
export const $ = (id) => document.getElementById(id);

// A direction control (U+202E and its kin) in a name would show it reversed: text is shown without them.
export const plain = (text) => String(text ?? "").replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "");

// attrs: class, dataset (an object), on<event> (a listener), anything else as an attribute.
// Children: nodes, or values shown as text (null and undefined show nothing).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(plain(c)));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
