// The explainer view: one section per idea, each a widget that can also be shown alone
// (`?view=explain&widget=NAME`, for an <iframe>) and copied as a link to its current state.
import { typeset } from '../math.js';
import { AREA_STATE, initArea } from './area.js';
import { IMPLIED_STATE, initImplied } from './implied.js';
import { ESTIMATOR_STATE, initEstimator } from './estimator.js';
import { AUGMENT_STATE, initAugment } from './augment.js';
import { KLFISHER_STATE, initKlFisher } from './klfisher.js';
import { LOWBIT_STATE, initLowBit } from './lowbit.js';
import { setupCopyLinks, showOnlyWidget } from '../embed.js';

const WIDGETS = {
  area: { fields: AREA_STATE, init: initArea },
  implied: { fields: IMPLIED_STATE, init: initImplied },
  estimator: { fields: ESTIMATOR_STATE, init: initEstimator },
  augment: { fields: AUGMENT_STATE, init: initAugment },
  klfisher: { fields: KLFISHER_STATE, init: initKlFisher },
  lowbit: { fields: LOWBIT_STATE, init: initLowBit },
};

export const EXPLAINER_STATE = [
  { key: 'widget', type: 'string', def: '' },
  ...Object.values(WIDGETS).flatMap((w) => w.fields),
];

export function initExplainer(wasm, state, report) {
  const only = state.get('widget');
  const sections = [...document.querySelectorAll('main[data-view="explain"] [data-widget]')];
  const alone = showOnlyWidget('explain', only, report);
  typeset();
  setupCopyLinks('explain', (name) => WIDGETS[name].fields);
  if (alone) {
    WIDGETS[only].init(wasm, state);
    return;
  }
  // Each widget computes for up to a second or two: start one when it comes near the screen,
  // so the page answers at once.
  const started = new Set();
  const start = (section) => {
    const name = section.dataset.widget;
    if (started.has(name) || !WIDGETS[name]) return;
    started.add(name);
    WIDGETS[name].init(wasm, state);
  };
  if (!('IntersectionObserver' in window)) {
    sections.forEach(start);
    return;
  }
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      // Let the browser paint what is already there before a widget computes.
      setTimeout(() => start(entry.target), 0);
    }
  }, { rootMargin: '300px 0px' });
  for (const section of sections) observer.observe(section);
}
