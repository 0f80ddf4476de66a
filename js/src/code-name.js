// The code name suggested for a display name, as code_name_from_display_name in
// src/kxt_middleware/activity_types.py (tests/code_names.json holds the cases both must agree on).

// Latin letters that NFKD does not split into an ASCII letter and accents.
const LATIN = {
  ß: 'ss',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ø: 'o',
  Ø: 'O',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  þ: 'th',
  Þ: 'TH',
  ı: 'i',
};
const CODE_NAME_MAX = 100;

/**
 * "Loan calculator usage" -> "loan_calculator_usage"; "" when the name has no letter A-Z or
 * digit (e.g. Cyrillic), so the server asks for a code name instead of inventing one.
 */
export const codeNameFromDisplayName = (displayName) => {
  const ascii = displayName
    .replace(/[ßæÆœŒøØłŁđĐðÐþÞı]/g, (letter) => LATIN[letter])
    .normalize('NFKD')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, as a whole
    .replace(/[^\x00-\x7f]/g, '');
  let code = ascii
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
  if (!code) return '';
  if (!/^[a-z]/.test(code)) code = `_${code}`;
  return code.slice(0, CODE_NAME_MAX).replace(/_+$/, '');
};
