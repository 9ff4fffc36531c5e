// KaTeX typesetting of every element marked `.tex` (inline) or `.tex.display` (block).

export function typeset(root = document) {
  if (!window.katex) return;
  for (const element of root.querySelectorAll('.tex:not([data-typeset])')) {
    renderTex(element, element.textContent, element.classList.contains('display'));
    element.dataset.typeset = 'true';
  }
}

export function renderTex(element, tex, displayMode = false) {
  if (!window.katex) {
    element.textContent = tex;
    return;
  }
  window.katex.render(tex, element, { displayMode, throwOnError: false, output: 'html' });
}
