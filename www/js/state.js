// Page state in the URL: one declarative table (key, type, default) that serialises both ways,
// so a link reproduces exactly what the reader sees.

const PARSERS = {
  number: (text) => {
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  },
  string: (text) => text,
  list: (text) => text.split(',').filter(Boolean),
};

const FORMATTERS = {
  number: (value) => String(value),
  string: (value) => value,
  list: (value) => value.join(','),
};

export function createState(fields) {
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const { key, type, def } of fields) {
    const raw = params.get(key);
    const parsed = raw === null ? undefined : PARSERS[type](raw);
    state[key] = parsed === undefined ? structuredClone(def) : parsed;
  }
  return {
    get: (key) => state[key],
    set(key, value) {
      state[key] = value;
      const next = new URLSearchParams(location.search);
      const field = fields.find((f) => f.key === key);
      const text = FORMATTERS[field.type](value);
      if (text === FORMATTERS[field.type](field.def)) next.delete(key);
      else next.set(key, text);
      const query = next.toString();
      history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
    },
  };
}
