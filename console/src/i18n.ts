import { useEffect, useState } from 'preact/hooks';

/**
 * The console's words in English and Simplified Chinese. The language comes from the browser
 * (`navigator.languages`), can be switched, and the choice is kept in localStorage. Dates and
 * durations use `Intl` in the user's own time zone.
 */
export const LANGUAGES = { en: 'English', 'zh-CN': '简体中文' } as const;
export type Language = keyof typeof LANGUAGES;

const en = {
  'app.name': 'Faultline',
  'nav.queue': 'Queue',
  'nav.mine': 'My tickets',
  'nav.signOut': 'Sign out',
  'nav.language': 'Language',
  'nav.main': 'Main',
  'signIn.title': 'Sign in to the maintenance console',
  'signIn.username': 'User name',
  'signIn.password': 'Password',
  'signIn.submit': 'Sign in',
  'signIn.busy': 'Signing in…',
  'signIn.refused': 'Unknown user name or wrong password.',
  'signIn.throttled': 'Too many failed sign-ins from here. Try again in {s} s.',
  'signIn.ended': 'Your session ended. Please sign in again.',
  'queue.title': 'Open tickets',
  'queue.count': '{n} open tickets',
  'queue.loading': 'Loading tickets…',
  'queue.empty': 'No open tickets match these filters.',
  'queue.live': 'Live',
  'queue.offline': 'Reconnecting…',
  'queue.new': 'New',
  'filter.site': 'Site',
  'filter.team': 'Team',
  'filter.class': 'Class',
  'filter.status': 'Status',
  'filter.mine': 'Only mine',
  'filter.any': 'Any',
  'filter.clear': 'Clear filters',
  'col.ticket': 'Ticket',
  'col.class': 'Class',
  'col.device': 'Device',
  'col.site': 'Site',
  'col.team': 'Team',
  'col.assignee': 'Assignee',
  'col.status': 'Status',
  'col.clocks': 'SLA clocks',
  'ticket.unassigned': 'unassigned',
  'priority.emergency': 'Emergency',
  'priority.general': 'General',
  'priority.preventive': 'Preventive',
  'status.open': 'Open',
  'status.acknowledged': 'Acknowledged',
  'status.diagnosing': 'Diagnosing',
  'status.dispatched': 'Dispatched',
  'status.on_site': 'On site',
  'status.waiting': 'Waiting',
  'status.resolved': 'Resolved',
  'status.closed': 'Closed',
  'status.cancelled': 'Cancelled',
  'clock.response': 'Response',
  'clock.remoteFix': 'Remote fix',
  'clock.onsite': 'On site',
  'clock.resolution': 'Resolution',
  'clock.visit': 'Visit',
  'clockState.running': 'running',
  'clockState.paused': 'paused',
  'clockState.warning': 'warning',
  'clockState.met': 'met',
  'clockState.breached': 'breached',
  'clock.left': '{d} left',
  'clock.over': '{d} over',
  'clock.metIn': 'met',
  'clock.pausedAt': 'paused',
  'error.generic': 'Something went wrong: {m}',
  'role.viewer': 'viewer',
  'role.technician': 'technician',
  'role.dispatcher': 'dispatcher',
  'role.supervisor': 'supervisor',
  'role.customer': 'customer',
  'role.admin': 'administrator',
  'nav.skip': 'Skip to content',
  'action.cancel': 'Cancel',
  'action.title': 'Actions',
  'action.assign': 'Assign',
  'action.comment': 'Add comment',
  'action.review': 'Review the repair report',
  'action.accept': 'Accept and close',
  'action.return': 'Return with findings',
  'action.feedback': 'Rate the service',
  'action.send': 'Send',
  'action.done': 'Done.',
  'move.open': 'Reopen',
  'move.acknowledged': 'Acknowledge',
  'move.diagnosing': 'Start remote diagnosis',
  'move.dispatched': 'Plan an on-site visit',
  'move.on_site': 'Arrived on site',
  'move.waiting': 'Wait for customer or parts',
  'move.resolved': 'Resolve with the repair report',
  'move.closed': 'Close',
  'move.cancelled': 'Cancel the ticket',
  'field.note': 'Note',
  'field.appointmentAt': 'Appointment',
  'field.technicians': 'Technicians (comma-separated)',
  'field.team': 'Team',
  'field.tools': 'Tools (comma-separated)',
  'field.waitingOn': 'Waiting on',
  'field.cause': 'Cause',
  'field.actions': 'What was done',
  'field.prevention': 'How to prevent it',
  'field.assignee': 'Technician',
  'field.comment': 'Comment',
  'field.findings': 'Findings',
  'field.score': 'Score (1–5)',
  'wait.customer': 'the customer',
  'wait.parts': 'parts',
  'wait.third_party': 'a third party',
  'ticket.timeline': 'Timeline',
  'ticket.report': 'Repair report',
  'ticket.feedback': 'Customer feedback',
  'ticket.back': 'Back to the queue',
  'ticket.review.pending': 'awaiting review',
  'ticket.review.accepted': 'accepted',
  'ticket.review.returned': 'returned',
  'mine.title': 'My tickets',
  'mine.empty': 'Nothing assigned to you is open.',
  'mine.details': 'Details',
} as const;

export type Key = keyof typeof en;

const zhCN: Record<Key, string> = {
  'app.name': 'Faultline',
  'nav.queue': '工单队列',
  'nav.mine': '我的工单',
  'nav.signOut': '退出登录',
  'nav.language': '语言',
  'nav.main': '主导航',
  'signIn.title': '登录运维控制台',
  'signIn.username': '用户名',
  'signIn.password': '密码',
  'signIn.submit': '登录',
  'signIn.busy': '正在登录…',
  'signIn.refused': '用户名或密码错误。',
  'signIn.throttled': '登录失败次数过多，请在 {s} 秒后重试。',
  'signIn.ended': '会话已结束，请重新登录。',
  'queue.title': '未关闭工单',
  'queue.count': '{n} 张未关闭工单',
  'queue.loading': '正在加载工单…',
  'queue.empty': '没有符合筛选条件的未关闭工单。',
  'queue.live': '实时',
  'queue.offline': '正在重新连接…',
  'queue.new': '新',
  'filter.site': '站点',
  'filter.team': '班组',
  'filter.class': '类别',
  'filter.status': '状态',
  'filter.mine': '仅看我的',
  'filter.any': '全部',
  'filter.clear': '清除筛选',
  'col.ticket': '工单',
  'col.class': '类别',
  'col.device': '设备',
  'col.site': '站点',
  'col.team': '班组',
  'col.assignee': '处理人',
  'col.status': '状态',
  'col.clocks': 'SLA 时限',
  'ticket.unassigned': '未指派',
  'priority.emergency': '紧急故障',
  'priority.general': '一般故障',
  'priority.preventive': '预防性维护',
  'status.open': '待响应',
  'status.acknowledged': '已响应',
  'status.diagnosing': '远程诊断中',
  'status.dispatched': '已派工',
  'status.on_site': '已到场',
  'status.waiting': '等待中',
  'status.resolved': '已解决',
  'status.closed': '已关闭',
  'status.cancelled': '已取消',
  'clock.response': '响应',
  'clock.remoteFix': '远程修复',
  'clock.onsite': '到场',
  'clock.resolution': '解决',
  'clock.visit': '上门',
  'clockState.running': '计时中',
  'clockState.paused': '已暂停',
  'clockState.warning': '预警',
  'clockState.met': '已达成',
  'clockState.breached': '已超时',
  'clock.left': '剩余 {d}',
  'clock.over': '超时 {d}',
  'clock.metIn': '已达成',
  'clock.pausedAt': '已暂停',
  'error.generic': '出错了：{m}',
  'role.viewer': '只读用户',
  'role.technician': '技术员',
  'role.dispatcher': '调度员',
  'role.supervisor': '主管',
  'role.customer': '客户',
  'role.admin': '管理员',
  'nav.skip': '跳到正文',
  'action.cancel': '取消',
  'action.title': '操作',
  'action.assign': '指派',
  'action.comment': '添加备注',
  'action.review': '审核维修报告',
  'action.accept': '通过并关闭',
  'action.return': '退回并说明问题',
  'action.feedback': '服务评价',
  'action.send': '提交',
  'action.done': '已完成。',
  'move.open': '重新打开',
  'move.acknowledged': '响应',
  'move.diagnosing': '开始远程诊断',
  'move.dispatched': '安排上门',
  'move.on_site': '已到达现场',
  'move.waiting': '等待客户或备件',
  'move.resolved': '填写维修报告并解决',
  'move.closed': '关闭',
  'move.cancelled': '取消工单',
  'field.note': '备注',
  'field.appointmentAt': '预约时间',
  'field.technicians': '技术员（逗号分隔）',
  'field.team': '班组',
  'field.tools': '工具（逗号分隔）',
  'field.waitingOn': '等待对象',
  'field.cause': '故障原因',
  'field.actions': '处理措施',
  'field.prevention': '预防建议',
  'field.assignee': '技术员',
  'field.comment': '备注',
  'field.findings': '审核意见',
  'field.score': '评分（1–5）',
  'wait.customer': '客户',
  'wait.parts': '备件',
  'wait.third_party': '第三方',
  'ticket.timeline': '处理记录',
  'ticket.report': '维修报告',
  'ticket.feedback': '客户评价',
  'ticket.back': '返回工单队列',
  'ticket.review.pending': '待审核',
  'ticket.review.accepted': '已通过',
  'ticket.review.returned': '已退回',
  'mine.title': '我的工单',
  'mine.empty': '没有指派给您的未关闭工单。',
  'mine.details': '详情',
};

const DICTIONARIES: Record<Language, Record<Key, string>> = { en, 'zh-CN': zhCN };
const STORAGE_KEY = 'faultline.language';

function initialLanguage(): Language {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  for (const l of navigator.languages ?? [navigator.language]) {
    const lower = l.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

let current: Language = initialLanguage();
const listeners = new Set<(l: Language) => void>();
document.documentElement.lang = current;

export function language(): Language {
  return current;
}

export function setLanguage(l: Language): void {
  current = l;
  localStorage.setItem(STORAGE_KEY, l);
  document.documentElement.lang = l;
  for (const f of listeners) f(l);
}

/** The word for `key` in the current language, with `{name}` replaced from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = DICTIONARIES[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

/** Re-renders the component when the language changes; returns the current one. */
export function useLanguage(): Language {
  const [l, set] = useState(current);
  useEffect(() => {
    listeners.add(set);
    return () => listeners.delete(set);
  }, []);
  return l;
}
