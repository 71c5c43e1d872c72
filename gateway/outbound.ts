import type { Logger } from '../lib/log.js';
import { EgressPolicy } from '../notify/egress.js';
import { MailSender, mailsOf } from '../notify/mail.js';
import type { Outbox } from '../notify/outbox.js';
import { WebhookDeliverer } from '../notify/webhooks.js';
import type { Components } from './components.js';
import type { Config } from './config/schema.js';

/** How often events past `notifications.events.retention` are pruned. */
const PRUNE_EVERY_MS = 3_600_000;

/**
 * The outbound side of the outbox: webhook deliveries (through the egress policy), e-mail when SMTP
 * is configured, and the pruning of old events. Registered with the components; the deliverers
 * are kicked once the pipeline is wired.
 */
export function startOutbound(config: Config, outbox: Outbox, components: Components, logger: Logger) {
  const egress = new EgressPolicy(config.notifications.webhooks.egress);
  const { retry, timeout } = config.notifications.webhooks;
  const deliverer = components.add(
    'webhook deliveries',
    new WebhookDeliverer({
      outbox,
      egress,
      logger: logger.child({ component: 'webhooks' }),
      retry,
      timeoutMs: timeout,
    }),
  );
  const smtp = config.notifications.smtp;
  const mail = smtp
    ? components.add(
        'mail',
        new MailSender({
          outbox,
          smtp,
          retry,
          timeoutMs: timeout,
          logger: logger.child({ component: 'mail' }),
        }),
      )
    : undefined;
  if (mail) outbox.setMailer(mailsOf);
  const prune = setInterval(() => {
    outbox.prune(Date.now() - config.notifications.events.retention).catch((err: unknown) => {
      logger.error({ err }, 'events could not be pruned');
    });
  }, PRUNE_EVERY_MS);
  prune.unref();
  components.onStop('event pruning', () => clearInterval(prune));
  return { egress, deliverer, mail };
}
