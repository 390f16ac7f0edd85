// chart.js: small SVG charts for the Quiver console (bar, line, histogram).
// No library: every element is built with createElementNS and every label is set
// with textContent, so data never becomes markup.
"use strict";

const QuiverChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 340;
  const M = { top: 36, right: 16, bottom: 64, left: 64 };

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // niceTicks returns about n round values covering [lo, hi].
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const ticks = [];
    for (let v = Math.floor(lo / step) * step; v <= hi + step / 2; v += step) {
      ticks.push(Number(v.toPrecision(12)));
    }
    return ticks;
  }

  function short(v) {
    if (typeof v === "number") {
      const a = Math.abs(v);
      if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
      if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
      if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
      return String(Number(v.toPrecision(4)));
    }
    const s = String(v);
    return s.length > 14 ? s.slice(0, 13) + "…" : s;
  }

  // frame starts an SVG with a y axis over [lo, hi] and returns it with the scale.
  function frame(title, lo, hi) {
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
    svg.appendChild(node("title", {}, title));
    svg.appendChild(node("text", { x: M.left, y: 16, class: "chart-title" }, title));
    const ticks = niceTicks(Math.min(lo, 0), hi, 5);
    const y0 = ticks[0], y1 = ticks[ticks.length - 1];
    const y = (v) => M.top + (H - M.top - M.bottom) * (1 - (v - y0) / (y1 - y0 || 1));
    for (const t of ticks) {
      svg.appendChild(node("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: "grid" }));
      svg.appendChild(node("text", { x: M.left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, short(t)));
    }
    svg.appendChild(node("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: "axis" }));
    svg.appendChild(node("line", { x1: M.left, x2: W - M.right, y1: y(Math.max(y0, 0)), y2: y(Math.max(y0, 0)), class: "axis" }));
    return { svg, y, base: y(Math.max(y0, 0)) };
  }

  function xLabel(svg, x, text) {
    const t = node("text", { x, y: H - M.bottom + 14, class: "tick", "text-anchor": "end",
      transform: `rotate(-35 ${x} ${H - M.bottom + 14})` }, short(text));
    svg.appendChild(t);
  }

  // bars draws one bar per value; labels name them. Every bar is a rect of class "bar"
  // with a <title> tooltip holding the exact label and value.
  function bars(title, labels, values, tooltip) {
    const finite = values.filter(Number.isFinite);
    const hi = finite.length ? Math.max(...finite, 0) : 1;
    const lo = finite.length ? Math.min(...finite, 0) : 0;
    const { svg, y, base } = frame(title, lo, hi);
    const slot = (W - M.left - M.right) / Math.max(values.length, 1);
    const every = Math.ceil(values.length / 24);
    values.forEach((v, i) => {
      const x = M.left + i * slot;
      const val = Number.isFinite(v) ? v : 0;
      const top = Math.min(y(val), base);
      const rect = node("rect", { x: x + slot * 0.1, y: top, width: Math.max(slot * 0.8, 1),
        height: Math.max(Math.abs(base - y(val)), val === 0 ? 0 : 1), class: "bar" });
      rect.appendChild(node("title", {}, tooltip ? tooltip(i) : `${labels[i]}: ${v}`));
      svg.appendChild(rect);
      if (i % every === 0) xLabel(svg, x + slot / 2, labels[i]);
    });
    return svg;
  }

  // line draws ys against xs (numbers: a scaled axis, points in x order; otherwise
  // evenly spaced in row order).
  function line(title, xs, ys) {
    if (xs.every(Number.isFinite)) {
      const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
      xs = order.map((i) => xs[i]);
      ys = order.map((i) => ys[i]);
    }
    const finite = ys.filter(Number.isFinite);
    const { svg, y } = frame(title, finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1);
    const numericX = xs.every(Number.isFinite);
    const xlo = numericX ? Math.min(...xs) : 0, xhi = numericX ? Math.max(...xs) : xs.length - 1;
    const x = (v, i) => M.left + (W - M.left - M.right) * (((numericX ? v : i) - xlo) / (xhi - xlo || 1));
    const pts = [];
    const every = Math.ceil(xs.length / 12);
    xs.forEach((xv, i) => {
      if (!Number.isFinite(ys[i])) return;
      pts.push(`${x(xv, i).toFixed(1)},${y(ys[i]).toFixed(1)}`);
      const dot = node("circle", { cx: x(xv, i), cy: y(ys[i]), r: 2.5, class: "point" });
      dot.appendChild(node("title", {}, `${xv}: ${ys[i]}`));
      svg.appendChild(dot);
      if (i % every === 0) xLabel(svg, x(xv, i), xv);
    });
    svg.insertBefore(node("polyline", { points: pts.join(" "), class: "line" }), svg.querySelector("circle"));
    return svg;
  }

  // histogram counts values into bins of equal width and draws them as bars.
  function histogram(title, values, nbins) {
    const v = values.filter(Number.isFinite);
    if (v.length === 0) return bars(title, [], []);
    const lo = Math.min(...v), hi = Math.max(...v);
    const n = lo === hi ? 1 : nbins;
    const width = (hi - lo) / n || 1;
    const counts = new Array(n).fill(0);
    for (const x of v) counts[Math.min(n - 1, Math.floor((x - lo) / width))]++;
    const edge = (i) => Number((lo + i * width).toPrecision(6));
    const labels = counts.map((_, i) => edge(i));
    return bars(title, labels, counts, (i) => `[${edge(i)}, ${edge(i + 1)}${i === n - 1 ? "]" : ")"}: ${counts[i]}`);
  }

  return { bars, line, histogram };
})();
