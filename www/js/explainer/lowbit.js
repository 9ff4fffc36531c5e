// Figure 5 (App. I): E_x[dL/dλ] of n-bit data and where each added bit lives along λ, with the
// information each bit carries computed in the Rust core (`lowBitPicture`).
import { lineChart, PALETTE } from '../charts.js';
import { attempt, fmt } from './common.js';

export const LOWBIT_STATE = [{ key: 'lbits', type: 'number', def: 5 }];

const RANGE = { lambda_min: -20, lambda_max: 20, points: 401 };

export function initLowBit(wasm, state) {
  const el = (id) => document.getElementById(id);
  const bits = el('lowbit-bits');
  const error = el('lowbit-error');
  const section = el('explain-lowbit');
  bits.value = String(state.get('lbits'));
  if (bits.value === '') bits.value = '5';

  function draw() {
    const p = attempt(section, error, () => wasm.lowBitPicture({ max_bits: Number(bits.value), range: RANGE }));
    if (p === null) return;
    state.set('lbits', Number(bits.value));
    const label = (n) => `${n} bit${n > 1 ? 's' : ''}`;
    lineChart(el('chart-lowbit-dl'), {
      xLabel: 'λ',
      yLabel: 'E[dL/dλ] (nats)',
      series: p.bits.map((n, i) => ({ label: label(n), color: PALETTE[i % PALETTE.length] })),
      data: [p.lambda, ...p.dl],
    });
    const top = Math.max(...p.bit_density.flat());
    lineChart(el('chart-lowbit-bits'), {
      xLabel: 'λ',
      yLabel: 'bits per unit λ',
      series: [
        ...p.bits.map((n, i) => ({ label: `bit ${n}`, color: PALETTE[i % PALETTE.length] })),
        { label: '5-bit-like w (scaled)', color: '#1b1d22', dash: [8, 6] },
      ],
      data: [p.lambda, ...p.bit_density, p.low_bit_w.map((w) => w * top)],
    });
    el('lowbit-table').querySelector('tbody').replaceChildren(...p.bits.map((n, i) => {
      const row = document.createElement('tr');
      row.dataset.bit = String(n);
      const density = p.bit_density[i];
      const peak = p.lambda[density.indexOf(Math.max(...density))];
      for (const text of [String(n), fmt(p.bit_information[i], 6), peak.toFixed(1)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      row.children[1].dataset.value = String(p.bit_information[i]);
      return row;
    }));
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }
  bits.addEventListener('change', draw);
  draw();
}
