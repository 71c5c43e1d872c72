import { useState } from 'preact/hooks';
import { ApiError, api, type SessionInfo } from '../api.js';
import { LanguagePicker } from '../components/language.js';
import { t, useLanguage } from '../i18n.js';

/** Sign-in: user name and password; the API's refusal (or throttling) said next to the form. */
export function SignIn(props: { ended: boolean; onSignedIn: (s: SessionInfo) => void }) {
  useLanguage();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(props.ended ? t('signIn.ended') : null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await api<SessionInfo>('POST', '/session', { username, password }));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'FL_ERR_API_RATE_LIMITED')
        setError(t('signIn.throttled', { s: /(\d+) s/.exec(err.message)?.[1] ?? '60' }));
      else if (err instanceof ApiError && (err.code === 'FL_ERR_AUTH_SIGN_IN' || err.status === 400))
        setError(t('signIn.refused'));
      else setError(t('error.generic', { m: err instanceof Error ? err.message : String(err) }));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span class="brand">{t('app.name')}</span> {t('signIn.title')}
        </h1>
        <label for="username">{t('signIn.username')}</label>
        <input
          id="username"
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          required
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="password">{t('signIn.password')}</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby={error ? 'sign-in-error' : undefined}
        />
        {error ? (
          <p id="sign-in-error" class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t('signIn.busy') : t('signIn.submit')}
        </button>
        <LanguagePicker />
      </form>
    </main>
  );
}
