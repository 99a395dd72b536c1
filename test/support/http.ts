/** What a test reads of an HTTP answer over the network: status, headers, the raw text and, when it is JSON, the parsed body. */
export interface HttpAnswer { status: number, headers: Headers, text: string, json: any }

/** The one fetch helper of the test kit: never throws on a non-JSON body (json is then undefined). */
export async function http (url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const res = await fetch(url, init)
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}
