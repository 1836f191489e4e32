//! Concurrency by design: many operators answering one waiting ticket at the same instant.

use std::sync::Arc;

use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::helpers::*;

const OPERATORS: usize = 10;
const ROUNDS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_ten_simultaneous_replies_wins_every_time() {
    let app = Arc::new(spawn_app().await);
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        operators.push(app.operator(&format!("Op{i}"), "operator", &[&dept]).await);
    }
    let operators = Arc::new(operators);

    for round in 0..ROUNDS {
        let opened = app
            .inbound(&channel, &format!("+54911{round:08}"), "Hola")
            .await;
        let ticket = opened["ticket"]["id"].as_str().unwrap().to_owned();
        let barrier = Arc::new(Barrier::new(OPERATORS));
        let mut tasks = Vec::new();
        for i in 0..OPERATORS {
            let (app, operators, barrier, ticket) = (
                app.clone(),
                operators.clone(),
                barrier.clone(),
                ticket.clone(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let text = format!("respuesta de Op{i}");
                let (status, body) = app.reply(&ticket, &operators[i].token, &text).await;
                (i, status, body)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (i, status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => winners.push(i),
                StatusCode::CONFLICT => assert_eq!(body["error"], "ticket_taken", "{body}"),
                other => panic!("round {round}: unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];

        let (_, messages) = app
            .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
            .await;
        let texts: Vec<_> = messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            texts,
            ["Hola".to_owned(), format!("respuesta de Op{winner}")],
            "round {round}"
        );
        let (_, t) = app
            .get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
            .await;
        assert_eq!(t["operator"]["id"], operators[winner].id.as_str());
        let (_, timeline) = app
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &app.admin)
            .await;
        assert_eq!(
            timeline.as_array().unwrap().len(),
            2,
            "one claim only: {timeline}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_first_messages_from_one_contact_open_one_ticket() {
    let app = Arc::new(spawn_app().await);
    let dept = app.open_department("Ventas").await;
    let channel = Arc::new(app.channel(&dept).await);
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (app, channel, barrier) = (app.clone(), channel.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.inbound(&channel, &format!("+54922{round:08}"), &format!("m{i}"))
                    .await
            }));
        }
        let mut tickets = Vec::new();
        for t in tasks {
            tickets.push(t.await.unwrap()["ticket"]["id"].clone());
        }
        tickets.dedup();
        assert_eq!(tickets.len(), 1, "round {round}: {tickets:?}");
        let (_, messages) = app
            .get(
                &format!("/api/v1/tickets/{}/messages", tickets[0].as_str().unwrap()),
                &app.admin,
            )
            .await;
        assert_eq!(messages.as_array().unwrap().len(), 8);
    }
}
