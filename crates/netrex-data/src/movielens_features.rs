//! MovieLens's own side features: item genres and release decade (ML-100K `u.item`, ML-1M
//! `movies.dat`, the CSV releases' `movies.csv`), user gender, age bracket and occupation
//! (ML-100K `u.user`, ML-1M `users.dat`). Needs no polars.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::features::{Features, FeaturesBuilder};
use crate::ids::{IdMap, RawId};
use crate::movielens::{Layout, MovieLens};

/// ML-100K's 19 genre flags of `u.item`, in column order.
const GENRES_100K: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// ML-1M's occupation codes of `users.dat`.
const OCCUPATIONS_1M: [&str; 21] = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
];

/// The item features of `release` (files in `dir`): `genre:NAME` for each genre and one
/// `decade:1990s` (or `decade:unknown`), weight 1. Raw item ids go through `items`; movies the
/// ratings never mention are added to it.
pub fn movielens_item_features(
    release: MovieLens,
    dir: &Path,
    items: &mut IdMap<RawId>,
) -> Result<Features> {
    let path = dir.join(release.items_file());
    let text = read_latin1(&path)?;
    let mut builder = FeaturesBuilder::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || (release.layout() == Layout::Csv && index == 0) {
            continue;
        }
        let bad = |message: &str| DataError::Parse {
            path: path.clone(),
            line: index + 1,
            message: format!("{message}: {line:?}"),
        };
        let (id, genres, year) = match release.layout() {
            Layout::Tab100k => {
                let fields: Vec<&str> = line.split('|').collect();
                if fields.len() != 24 {
                    return Err(bad("expected 24 `|`-separated fields"));
                }
                let mut genres = Vec::new();
                for (name, flag) in GENRES_100K.iter().zip(&fields[5..]) {
                    match *flag {
                        "1" => genres.push(*name),
                        "0" => {}
                        _ => return Err(bad("a genre flag is neither 0 nor 1")),
                    }
                }
                // release date `01-Jan-1995`, sometimes empty
                let year = fields[2].get(fields[2].len().saturating_sub(4)..);
                (fields[0], genres, year.and_then(|y| y.parse::<i32>().ok()))
            }
            Layout::DoubleColon => {
                let fields: Vec<&str> = line.split("::").collect();
                if fields.len() != 3 {
                    return Err(bad("expected `MovieID::Title::Genres`"));
                }
                (fields[0], genre_list(fields[2]), title_year(fields[1]))
            }
            Layout::Csv => {
                // movieId,title,genres: the title may be quoted and hold commas
                let (Some(first), Some(last)) = (line.find(','), line.rfind(',')) else {
                    return Err(bad("expected `movieId,title,genres`"));
                };
                if first == last {
                    return Err(bad("expected `movieId,title,genres`"));
                }
                let title = line[first + 1..last].trim_matches('"');
                (
                    &line[..first],
                    genre_list(&line[last + 1..]),
                    title_year(title),
                )
            }
        };
        let item = items.get_or_insert(RawId::parse(id.trim()));
        for genre in genres {
            builder.add(item, &format!("genre:{genre}"), 1.0);
        }
        let decade = match year {
            Some(y) => format!("decade:{}s", y / 10 * 10),
            None => "decade:unknown".to_owned(),
        };
        builder.add(item, &decade, 1.0);
    }
    Ok(builder.build().with_rows(items.len()))
}

/// The user features of `release` (files in `dir`): `gender:M|F`, `age:BRACKET` (ML-1M's
/// brackets: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+) and `occupation:NAME`, weight 1.
/// Only ML-100K and ML-1M have user files. Raw user ids go through `users`.
pub fn movielens_user_features(
    release: MovieLens,
    dir: &Path,
    users: &mut IdMap<RawId>,
) -> Result<Features> {
    let (file, separator) = match release.layout() {
        Layout::Tab100k => ("u.user", "|"),
        Layout::DoubleColon if release == MovieLens::Ml1m => ("users.dat", "::"),
        _ => {
            return Err(DataError::param(
                "user features",
                format!("{release} has no user file (ML-100K and ML-1M have)"),
            ))
        }
    };
    let path = dir.join(file);
    let text = read_latin1(&path)?;
    let mut builder = FeaturesBuilder::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: &str| DataError::Parse {
            path: path.clone(),
            line: index + 1,
            message: format!("{message}: {line:?}"),
        };
        let fields: Vec<&str> = line.split(separator).collect();
        if fields.len() != 5 {
            return Err(bad("expected 5 fields"));
        }
        // u.user: id|age|gender|occupation|zip; users.dat: id::gender::age::occupation::zip
        let (age, gender, occupation) = if release == MovieLens::Ml100k {
            (fields[1], fields[2], fields[3].to_owned())
        } else {
            let code: usize = fields[3]
                .parse()
                .map_err(|_| bad("the occupation is not a code"))?;
            let name = OCCUPATIONS_1M
                .get(code)
                .ok_or_else(|| bad("unknown occupation code"))?;
            (fields[2], fields[1], (*name).to_owned())
        };
        let age: u32 = age.parse().map_err(|_| bad("the age is not a number"))?;
        if !matches!(gender, "M" | "F") {
            return Err(bad("the gender is neither M nor F"));
        }
        let user = users.get_or_insert(RawId::parse(fields[0]));
        builder.add(user, &format!("gender:{gender}"), 1.0);
        builder.add(user, &format!("age:{}", age_bracket(age)), 1.0);
        builder.add(user, &format!("occupation:{occupation}"), 1.0);
    }
    Ok(builder.build().with_rows(users.len()))
}

/// ML-1M's age brackets (its codes are their lower bounds).
fn age_bracket(age: u32) -> &'static str {
    match age {
        0..=17 => "under 18",
        18..=24 => "18-24",
        25..=34 => "25-34",
        35..=44 => "35-44",
        45..=49 => "45-49",
        50..=55 => "50-55",
        _ => "56+",
    }
}

/// `Action|Comedy` as a list; "(no genres listed)" as none.
fn genre_list(field: &str) -> Vec<&str> {
    field
        .trim()
        .split('|')
        .filter(|g| !g.is_empty() && *g != "(no genres listed)")
        .collect()
}

/// The year of a title ending in `(1995)`.
fn title_year(title: &str) -> Option<i32> {
    let title = title.trim();
    let open = title.rfind('(')?;
    title[open + 1..].strip_suffix(')')?.parse().ok()
}

/// A file in Latin-1 (MovieLens's encoding): every byte is the code point of its value.
fn read_latin1(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_and_brackets() {
        assert_eq!(title_year("Toy Story (1995)"), Some(1995));
        assert_eq!(
            title_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
            Some(1995)
        );
        assert_eq!(title_year("No year"), None);
        assert_eq!(age_bracket(24), "18-24");
        assert_eq!(age_bracket(1), "under 18");
        assert_eq!(age_bracket(56), "56+");
        assert_eq!(genre_list("(no genres listed)"), Vec::<&str>::new());
    }
}
