//! Words as the agenda matcher reads them: lower case, accents folded, punctuation dropped,
//! elisions split ("all'ordine" -> "all", "ordine"); and spoken numbers in Italian and English
//! ("tre", "ventuno", "terzo", "three", "twenty-one", "third", "3", "3°", "IV").

/// A normalized token and the index of the transcript word it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub word: usize,
}

/// Lower case, accents folded to their base letter.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            '’' | '‘' | '`' => '\'',
            c => c,
        })
        .collect()
}

/// The tokens of a sequence of words, each remembering its word.
pub fn tokenize<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<Token> {
    let mut out = Vec::new();
    for (index, word) in words.into_iter().enumerate() {
        for piece in fold(word).split(|c: char| c == '\'' || c.is_whitespace() || c == '/') {
            let text: String = piece
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '°' || *c == 'º')
                .collect();
            let text = text.trim_matches('-').to_owned();
            if !text.is_empty() {
                out.push(Token { text, word: index });
            }
        }
    }
    out
}

const IT_UNITS: [&str; 20] = [
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciotto",
    "diciannove",
];
const IT_TENS: [&str; 8] = [
    "venti",
    "trenta",
    "quaranta",
    "cinquanta",
    "sessanta",
    "settanta",
    "ottanta",
    "novanta",
];
const EN_UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const IT_ORDINALS: [&str; 10] = [
    "primo", "secondo", "terzo", "quarto", "quinto", "sesto", "settimo", "ottavo", "nono", "decimo",
];
const EN_ORDINALS: [(&str, u32); 12] = [
    ("first", 1),
    ("second", 2),
    ("third", 3),
    ("fifth", 5),
    ("eighth", 8),
    ("ninth", 9),
    ("twelfth", 12),
    ("twentieth", 20),
    ("thirtieth", 30),
    ("fortieth", 40),
    ("fiftieth", 50),
    ("sixtieth", 60),
];

/// A cardinal number: digits, or an Italian or English number word below one hundred.
pub fn cardinal(token: &str) -> Option<u32> {
    if let Ok(n) = token.parse::<u32>() {
        return Some(n);
    }
    if let Some(n) = position(&IT_UNITS, token).or_else(|| position(&EN_UNITS, token)) {
        return Some(n);
    }
    for (k, tens) in IT_TENS.iter().enumerate() {
        let value = 20 + 10 * k as u32;
        if token == *tens {
            return Some(value);
        }
        // "ventitre", "trentadue"; before "uno" and "otto" the final vowel drops: "ventuno".
        let stem = &tens[..tens.len() - 1];
        for prefix in [*tens, stem] {
            if let Some(rest) = token.strip_prefix(prefix) {
                if let Some(unit) = position(&IT_UNITS[1..10], rest) {
                    return Some(value + unit + 1);
                }
            }
        }
    }
    for (k, tens) in EN_TENS.iter().enumerate() {
        let value = 20 + 10 * k as u32;
        if token == *tens {
            return Some(value);
        }
        if let Some(rest) = token.strip_prefix(tens).map(|r| r.trim_start_matches('-')) {
            if let Some(unit) = position(&EN_UNITS[1..10], rest) {
                return Some(value + unit + 1);
            }
        }
    }
    None
}

/// An ordinal number: "terzo", "terza", "undicesimo", "third", "eleventh", "3rd", "3°", "3º".
pub fn ordinal(token: &str) -> Option<u32> {
    let digits = token.trim_end_matches(['°', 'º']);
    if digits.len() < token.len() {
        return digits.parse().ok();
    }
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(n) = token.strip_suffix(suffix).and_then(|d| d.parse().ok()) {
            return Some(n);
        }
    }
    let masculine = token
        .strip_suffix('a')
        .map_or_else(|| token.to_owned(), |stem| format!("{stem}o"));
    if let Some(n) = position(&IT_ORDINALS, &masculine) {
        return Some(n + 1);
    }
    if let Some(stem) = masculine.strip_suffix("esimo") {
        // "undicesimo" <- "undici", "ventesimo" <- "venti", "trentesimo" <- "trenta",
        // "ventitreesimo" <- "ventitre".
        for vowel in ["", "i", "e", "a", "o"] {
            if let Some(n) = cardinal(&format!("{stem}{vowel}")) {
                return Some(n);
            }
        }
    }
    if let Some(&(_, n)) = EN_ORDINALS.iter().find(|(w, _)| *w == token) {
        return Some(n);
    }
    // "twenty-first", "twenty-third"
    for (k, tens) in EN_TENS.iter().enumerate() {
        if let Some(rest) = token.strip_prefix(tens).map(|r| r.trim_start_matches('-')) {
            if !rest.is_empty() {
                return ordinal(rest)
                    .filter(|n| *n < 10)
                    .map(|n| 20 + 10 * k as u32 + n);
            }
        }
    }
    let stem = token.strip_suffix("th")?;
    cardinal(stem).filter(|n| *n >= 4)
}

/// A Roman numeral from II to XXXIX (a lone "i" is the Italian article, not one).
pub fn roman(token: &str) -> Option<u32> {
    if token.len() < 2 || !token.chars().all(|c| "ivx".contains(c)) {
        return None;
    }
    let value = |c| match c {
        'i' => 1,
        'v' => 5,
        _ => 10,
    };
    let chars: Vec<u32> = token.chars().map(value).collect();
    let mut total = 0i64;
    for (k, &v) in chars.iter().enumerate() {
        if chars.get(k + 1).is_some_and(|&next| next > v) {
            total -= i64::from(v);
        } else {
            total += i64::from(v);
        }
    }
    let n = u32::try_from(total).ok()?;
    // Only canonical spellings: "iiii" or "vv" are not numerals.
    (to_roman(n) == token).then_some(n)
}

fn to_roman(mut n: u32) -> String {
    let mut out = String::new();
    for (v, s) in [(10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")] {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

/// A number in any of the forms an agenda item is called by.
pub fn number(token: &str) -> Option<u32> {
    cardinal(token)
        .or_else(|| ordinal(token))
        .or_else(|| roman(token))
}

fn position(list: &[&str], token: &str) -> Option<u32> {
    list.iter().position(|w| *w == token).map(|i| i as u32)
}

/// Similarity of two tokens in 0..=1 (1 - edit distance / longer length).
pub fn similarity(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    1.0 - row[b.len()] as f32 / longest as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_fold_accents_and_split_elisions() {
        let t: Vec<String> = tokenize(["Passiamo", "all'ordine", "del", "giorno:", "Mobilità,"])
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(
            t,
            ["passiamo", "all", "ordine", "del", "giorno", "mobilita"]
        );
        let words: Vec<usize> = tokenize(["all'ordine", "x"])
            .iter()
            .map(|t| t.word)
            .collect();
        assert_eq!(words, [0, 0, 1]);
    }

    #[test]
    fn italian_numbers() {
        for (word, n) in [
            ("tre", 3),
            ("dodici", 12),
            ("venti", 20),
            ("ventuno", 21),
            ("ventitre", 23),
            ("trentotto", 38),
            ("quarantadue", 42),
        ] {
            assert_eq!(cardinal(word), Some(n), "{word}");
        }
        for (word, n) in [
            ("primo", 1),
            ("terza", 3),
            ("decimo", 10),
            ("undicesimo", 11),
            ("ventesimo", 20),
            ("ventitreesimo", 23),
        ] {
            assert_eq!(ordinal(word), Some(n), "{word}");
        }
        assert_eq!(number("sei"), Some(6));
        assert_eq!(number("punto"), None);
    }

    #[test]
    fn english_numbers() {
        for (word, n) in [
            ("three", 3),
            ("fourteen", 14),
            ("twenty-one", 21),
            ("forty", 40),
        ] {
            assert_eq!(cardinal(word), Some(n), "{word}");
        }
        for (word, n) in [
            ("first", 1),
            ("fourth", 4),
            ("eleventh", 11),
            ("twelfth", 12),
            ("twentieth", 20),
            ("twenty-third", 23),
            ("3rd", 3),
            ("3°", 3),
        ] {
            assert_eq!(ordinal(word), Some(n), "{word}");
        }
        assert_eq!(ordinal("fourteenth"), Some(14));
        assert_eq!(ordinal("with"), None);
    }

    #[test]
    fn roman_numerals_are_canonical() {
        assert_eq!(roman("iv"), Some(4));
        assert_eq!(roman("xii"), Some(12));
        assert_eq!(roman("i"), None);
        assert_eq!(roman("iiii"), None);
        assert_eq!(roman("vix"), None);
    }

    #[test]
    fn similarity_tolerates_a_misheard_letter() {
        assert!(similarity("bilancio", "bilanco") > 0.8);
        assert!(similarity("mobilita", "mobilità") > 0.8);
        assert!(similarity("scuole", "strade") < 0.6);
        assert_eq!(similarity("", ""), 1.0);
    }
}
