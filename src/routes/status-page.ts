import { createHash } from 'node:crypto'
import type { ConnectionHealth, SalesforceHealthSummary } from '../health/schemas.ts'
import type { NotificationEvent } from '../notifications/events.ts'

/**
 * The HTML of /status: one card per connection, no script at all (the page refreshes itself with
 * a meta refresh), one stylesheet inline whose hash is the only style the Content-Security-Policy
 * allows. Every text that reaches the page is escaped: connection names are an admin's input,
 * messages and hints may carry Salesforce's words.
 */

export type StatusView =
  | { detailed: true, status: string, checkedAt: string, connections: ConnectionHealth[], events: NotificationEvent[] }
  | { detailed: false, status: string, checkedAt: string, connections: SalesforceHealthSummary['connections'] }

const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--warn:#9a6700;--degraded:#bc4c00;--failing:#cf222e;--muted:#6e7781;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:1rem;max-width:72rem;margin-inline:auto}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem 1rem;margin-bottom:1rem}
h1{font-size:1.4rem;margin:0}
h2{font-size:1.15rem;margin:0;overflow-wrap:anywhere}
.muted,small{color:var(--muted)}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,22rem),1fr))}
.card{border:1px solid var(--line);border-left:.4rem solid var(--muted);border-radius:.5rem;padding:.75rem 1rem;min-width:0}
.card.ok{border-left-color:var(--ok)}.card.warn{border-left-color:var(--warn)}.card.degraded{border-left-color:var(--degraded)}.card.failing{border-left-color:var(--failing)}
.title{display:flex;justify-content:space-between;align-items:center;gap:.5rem}
.badge{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;padding:.1rem .5rem;border-radius:1rem;color:#fff;background:var(--muted);white-space:nowrap}
.badge.ok{background:var(--ok)}.badge.warn{background:var(--warn)}.badge.degraded{background:var(--degraded)}.badge.failing{background:var(--failing)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:.6rem 0 0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere;min-width:0}
meter{width:100%;max-width:10rem;vertical-align:middle}
ul{margin:.25rem 0 0;padding-left:1.1rem}li{overflow-wrap:anywhere}
footer{margin-top:1.5rem;font-size:.85rem}
@media (max-width:30rem){body{padding:.6rem;font-size:15px}dl{grid-template-columns:1fr}dt{margin-top:.3rem}}
`

/** The Content-Security-Policy of the page: nothing runs, nothing loads, only this stylesheet applies. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (text: unknown): string {
  return String(text).replace(/[&<>"']/g, c => ESCAPES[c])
}

const STATUSES = new Set(['ok', 'warn', 'degraded', 'failing'])
/** a CSS class only from the closed list, whatever the value */
const statusClass = (status: string) => (STATUSES.has(status) ? status : 'unknown')

function ago (iso: string | undefined, now: number): string {
  if (!iso) return 'never'
  const s = Math.round((now - Date.parse(iso)) / 1000)
  const words = s < 60 ? `${Math.max(0, s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86_400)} days ago`
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(words)}</time>`
}

function days (n: number): string {
  if (n > 1) return `in ${n} days`
  if (n === 1) return 'in 1 day'
  if (n === 0) return 'today'
  return `${-n} day${n === -1 ? '' : 's'} ago`
}

function row (label: string, html: string): string {
  return `<dt>${escapeHtml(label)}</dt><dd>${html}</dd>`
}

function detailedCard (c: ConnectionHealth, events: NotificationEvent[], now: number): string {
  const rows = [
    row('Last success', ago(c.lastSuccessAt, now)),
    row('Last check', `${ago(c.lastCheckedAt, now)} <small>(${escapeHtml(c.checkKind)})</small>`),
  ]
  // a warning (sunset, certificate, readiness) has a message and a hint but no failure
  if (c.classification !== 'ok') rows.push(row('Failure class', `<code>${escapeHtml(c.classification)}</code>`))
  if (c.status !== 'ok') {
    if (c.message) rows.push(row('Message', escapeHtml(c.message)))
    if (c.hint) rows.push(row('Hint', escapeHtml(c.hint)))
  }
  if (c.circuit.state !== 'closed') rows.push(row('Circuit', escapeHtml(c.circuit.state)))
  if (c.flowSunset) {
    rows.push(row('Flow sunset', `${escapeHtml(c.flowSunset.flow)} retires ${escapeHtml(c.flowSunset.date)} <strong>${escapeHtml(days(c.flowSunset.daysLeft))}</strong>; move to ${escapeHtml(c.flowSunset.moveTo.join(' or '))}`))
  }
  if (c.certificate) {
    rows.push(row('Certificate', `expires ${escapeHtml(c.certificate.notAfter.slice(0, 10))} <strong>${escapeHtml(days(c.certificate.daysLeft))}</strong>`))
  }
  if (c.loginBudget) {
    const { used, limit } = c.loginBudget
    rows.push(row('Login budget', `<meter min="0" max="${limit}" low="${Math.floor(limit * 0.5)}" high="${Math.floor(limit * 0.8)}" optimum="0" value="${used}"></meter> ${used} of ${limit} this hour`))
  }
  if (c.loginGuard) {
    const blocked = c.loginGuard.blocked ? '; <strong>no password login until an admin acts (the count does not expire)</strong>' : ''
    rows.push(row('Failed logins', `${c.loginGuard.failures} of ${c.loginGuard.lockoutThreshold} before lockout${blocked}`))
  }
  if (c.sessionValidUntil) rows.push(row('Session until', `<time datetime="${escapeHtml(c.sessionValidUntil)}">${escapeHtml(c.sessionValidUntil.slice(11, 16))} UTC</time>`))
  const recent = events.length === 0
    ? '<span class="muted">none</span>'
    : `<ul>${events.map(e => `<li>${ago(e.occurredAt, now)} <code>${escapeHtml(e.type)}</code>${eventSummary(e)}</li>`).join('')}</ul>`
  rows.push(row('Recent events', recent))
  return card(c.connection, c.status, `<dl>${rows.join('')}</dl>`)
}

/** A few words of what an event says (its statuses or counts), escaped. */
function eventSummary (e: NotificationEvent): string {
  const d = e.data
  if (e.type === 'connection.status_changed') return ` ${escapeHtml(d.from)} → ${escapeHtml(d.to)}`
  if (e.type === 'login.budget_reserve_reached') return ` ${escapeHtml(d.used)} of ${escapeHtml(d.limit)}`
  if (e.type === 'flow.sunset_threshold' || e.type === 'certificate.expiry_threshold') return ` ${escapeHtml(days(Number(d.daysLeft)))}`
  if (typeof d.outcome === 'string') return ` ${escapeHtml(d.outcome)}`
  return ''
}

function card (name: string, status: string, body: string): string {
  const cls = statusClass(status)
  return `<section class="card ${cls}" data-connection="${escapeHtml(name)}"><div class="title"><h2>${escapeHtml(name)}</h2><span class="badge ${cls}">${escapeHtml(status)}</span></div>${body}</section>`
}

export function renderStatusPage (view: StatusView, opts: { refreshSeconds: number, now: number }): string {
  const cards = view.detailed
    ? view.connections.map(c => detailedCard(c, view.events.filter(e => e.connection === c.connection).slice(0, 5), opts.now))
    : view.connections.map(c => card(c.connection, c.status, ''))
  const body = cards.length > 0 ? `<div class="grid">${cards.join('')}</div>` : '<p class="muted">No connections yet.</p>'
  const note = view.detailed ? '' : '<p class="muted">Statuses only: details (failure class, hint, sunset, certificate, login budget, recent events) need an admin credential, or HEALTH_DETAILS=public.</p>'
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${opts.refreshSeconds}">
<meta name="robots" content="noindex">
<title>${escapeHtml(view.status)} · sf-broker status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>sf-broker</h1><span class="badge ${statusClass(view.status)}" id="overall">${escapeHtml(view.status)}</span><span class="muted">as of <time datetime="${escapeHtml(view.checkedAt)}">${escapeHtml(view.checkedAt.slice(11, 19))} UTC</time>, refreshes every ${opts.refreshSeconds} s</span></header>
${note}
<main>${body}</main>
<footer class="muted">Same data as GET /health/salesforce. Webhook events: README "Webhooks".</footer>
</body>
</html>
`
}
