/**
 * Terminal control sequences out of text that people will read: upstream words (a login host's
 * error, a SOAP fault, Salesforce's codes and LoginHistory fields) and fields an admin stored.
 * Answers are JSON, which escapes most of these, but `sfb` and any other client print the decoded
 * strings: an ESC sequence from a hostile host could clear an admin's screen and print a fake
 * "result: ok", set the window title (OSC 0), plant a hyperlink (OSC 8) or reverse the text
 * (bidi overrides). Whole escape sequences go (ECMA-48: CSI, OSC/DCS/APC/PM/SOS strings up to BEL
 * or ST), then every remaining C0 control but tab and line feed, DEL, the C1 controls (a lone
 * U+009B is a CSI to some terminals) and the Unicode bidi embedding/override/isolate characters.
 */

// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\u001b(?:\[[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|[\]PX^_][^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|[\u0020-\u002f]*[\u0030-\u007e]?)|[\u0090\u009d-\u009f][^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u009b[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?/g
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/** The text without escape sequences and control characters (a carriage return becomes a space). */
export function withoutControlCharacters (text: string): string {
  if (!ANY_CONTROL.test(text)) return text
  return text.replace(ESCAPE_SEQUENCE, '').replace(/\r/g, ' ').replace(CONTROL, '')
}

/** A JSON-schema pattern for stored single-line text: no control character at all. */
export const NO_CONTROL_CHARACTERS_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$'
