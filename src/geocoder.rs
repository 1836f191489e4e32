//! Addresses to coordinates, for sharing a location by address (the seed looks the address up
//! on a map before sending it). Any Nominatim-compatible search service will do: the daemon
//! calls `{url}?q=<address>&format=jsonv2` and reads `[{lat, lon, display_name}]`, best first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A place found for an address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GeocodeError {
    #[error("no geocoder is configured ([geocoder] url or SWITCHBOARD_GEOCODER_URL)")]
    NotConfigured,
    #[error("the geocoder found nothing for this address")]
    NotFound,
    #[error("the geocoder could not be asked: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct Geocoder {
    url: Option<String>,
    http: reqwest::Client,
}

/// Nominatim's answer: coordinates as strings.
#[derive(Deserialize)]
struct Found {
    lat: String,
    lon: String,
    display_name: String,
}

impl Geocoder {
    /// `url` empty: not configured.
    pub fn new(url: &str, timeout: Duration) -> Self {
        let url = url.trim();
        Self {
            url: (!url.is_empty()).then(|| url.to_owned()),
            http: reqwest::Client::builder()
                .timeout(timeout)
                // Nominatim's usage policy asks every client to name itself.
                .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("a TLS backend is compiled in"),
        }
    }

    /// The places the geocoder finds for `address`, best first; never an empty list.
    pub async fn search(&self, address: &str) -> Result<Vec<Place>, GeocodeError> {
        let url = self.url.as_deref().ok_or(GeocodeError::NotConfigured)?;
        let response = self
            .http
            .get(url)
            .query(&[("q", address), ("format", "jsonv2")])
            .send()
            .await
            .map_err(|e| GeocodeError::Unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(GeocodeError::Unavailable(format!(
                "HTTP {}",
                response.status()
            )));
        }
        let found: Vec<Found> = response.json().await.map_err(|e| {
            GeocodeError::Unavailable(format!("unexpected answer: {}", e.without_url()))
        })?;
        let places: Vec<Place> = found
            .into_iter()
            .filter_map(|f| {
                let (latitude, longitude) = (f.lat.parse().ok()?, f.lon.parse().ok()?);
                ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude))
                    .then_some(Place {
                        latitude,
                        longitude,
                        address: f.display_name,
                    })
            })
            .collect();
        if places.is_empty() {
            Err(GeocodeError::NotFound)
        } else {
            Ok(places)
        }
    }
}
