// Embedding: any section with `data-widget="NAME"` in the current view can be shown alone
// (`?view=VIEW&widget=NAME`, no site header: for an <iframe> in a paper, a blog or slides), and
// its "Copy link" button gives the address of its current state.

// Shows only the section `only` of the view `view`, if it has one. Returns whether it did; an
// unknown name is reported and every section stays.
export function showOnlyWidget(view, only, report) {
  const sections = [...document.querySelectorAll(`main[data-view="${view}"] [data-widget]`)];
  if (!only) return false;
  if (!sections.some((s) => s.dataset.widget === only)) {
    const names = sections.map((s) => s.dataset.widget).join(', ');
    report(`There is no widget “${only}”; the widgets are ${names}. Showing all of them.`);
    return false;
  }
  document.body.dataset.embed = 'true';
  for (const section of sections) section.hidden = section.dataset.widget !== only;
  return true;
}

// The address of one widget with its own settings only (those that differ from the defaults).
export function widgetLink(view, name, fields) {
  const current = new URLSearchParams(location.search);
  const link = new URLSearchParams(view === 'figures' ? { widget: name } : { view, widget: name });
  for (const { key } of fields) {
    if (current.has(key)) link.set(key, current.get(key));
  }
  return `${location.origin}${location.pathname}?${link}`;
}

// Each "Copy link" button of the view copies its widget's address and also shows it, selected,
// beside the button (clipboard access can be refused, e.g. inside an <iframe>). `fieldsOf(name)`
// lists the state fields that belong in that widget's link.
export function setupCopyLinks(view, fieldsOf) {
  for (const button of document.querySelectorAll(`main[data-view="${view}"] button[data-copy-widget]`)) {
    const name = button.dataset.copyWidget;
    const out = button.nextElementSibling;
    button.addEventListener('click', async () => {
      const link = widgetLink(view, name, fieldsOf(name));
      out.value = link;
      out.hidden = false;
      out.select();
      try {
        await navigator.clipboard.writeText(link);
        button.textContent = 'Link copied';
      } catch {
        button.textContent = 'Copy the link below';
      }
      setTimeout(() => {
        button.textContent = 'Copy link';
      }, 2000);
    });
  }
}
