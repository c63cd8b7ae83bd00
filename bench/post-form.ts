// Benchmarks' REST calls to flower-adapters: a form POST (as the seed sent them) that returns the
// JSON answer or throws with the status and body.

export async function postForm(
  url: string,
  fields: Record<string, string>,
): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url}: HTTP ${r.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
