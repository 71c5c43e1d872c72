import { useContext, useState } from 'preact/hooks';
import { api, type SessionInfo, setCsrfToken } from '../api.js';
import { ActionForm, bodyOf, type FieldSpec } from '../components/action-form.js';
import { t, useLanguage } from '../i18n.js';
import { SessionContext } from '../session.js';

const PASSWORD: FieldSpec[] = [
  { path: 'current', label: 'account.current', kind: 'password', required: true },
  { path: 'password', label: 'account.new', kind: 'password', required: true },
];

/** The signed-in user's own account: a new password (the user's other sessions end; this one goes on). */
export function Account() {
  useLanguage();
  const { user } = useContext(SessionContext);
  const [done, setDone] = useState(false);
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">{t('account.title')}</h1>
      <p>
        {user.displayName} ({user.username}) · {t(`role.${user.role}`)}
      </p>
      {done ? (
        <p class="notice" role="status">
          {t('account.changed')}
        </p>
      ) : null}
      <ActionForm
        id="account-password"
        fields={PASSWORD}
        submit={t('account.change')}
        onSubmit={async (v) => {
          const s = await api<SessionInfo>('POST', '/session/password', bodyOf(PASSWORD, v));
          setCsrfToken(s.csrfToken);
        }}
        onDone={() => setDone(true)}
      />
    </section>
  );
}
