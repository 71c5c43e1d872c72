/**
 * `{{name}}` placeholders in ticket titles and descriptions. Only the variables below exist; a
 * rule that names another is rejected when it is loaded, not when it fires.
 */
export const TEMPLATE_VARIABLES = [
  'device.id',
  'device.name',
  'device.model',
  'device.site',
  'device.customer',
  'rule.id',
  'rule.description',
  'metric',
  'value',
  'threshold',
  'codes',
] as const;

export type TemplateVars = Partial<Record<(typeof TEMPLATE_VARIABLES)[number], string | number | null>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_.]+)\s*\}\}/g;

export function unknownVariables(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) out.push(name);
  }
  return out;
}

export function render(template: string, vars: TemplateVars): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const v = vars[name as keyof TemplateVars];
    if (v === undefined || v === null) return '';
    return typeof v === 'number' ? String(Math.round(v * 100) / 100) : v;
  });
}
