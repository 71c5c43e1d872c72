/**
 * Credentials inside URLs (`http://user:secret@influx:8086`, `mqtt://svc:pw@broker`, a webhook URL
 * with a token in its query) are shown as `user:***@` and `token=***` in every API answer and log line
 * (issue 18). Works on any text, so that an error message quoting a URL is safe too.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#]*)@/gi; // the last @ ends it, as in a URL parser
const SECRET_PARAMS =
  /([?&](?:password|passwd|pwd|token|access_token|secret|api[_-]?key|apikey|key|auth|signature|sig)=)[^&#\s]*/gi;

export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1$2:***@').replace(SECRET_PARAMS, '$1***');
}
