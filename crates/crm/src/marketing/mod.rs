//! Marketing: public contact forms and their submissions (`forms`), and the org's suppression
//! list (`suppression`, honoured by every send of `emails`). Newsletters (contact lists,
//! campaigns) are not built yet.

pub mod forms;
pub mod suppression;

use axum::Router;
use axum::routing::{get, patch};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(
        forms::list_forms, forms::create_form, forms::form_detail, forms::form_patch,
        forms::form_delete, forms::submit, forms::list_submissions, forms::patch_submission,
        suppression::list, suppression::create, suppression::delete,
    ),
    components(schemas(
        forms::FormObj, forms::FormListResponse, forms::FormBody, forms::FormSaved,
        forms::MarketingMessage, forms::SubmissionBody, forms::SubmissionObj,
        forms::SubmissionListResponse, forms::SubmissionPatch, suppression::SuppressionObj,
        suppression::SuppressionListResponse, suppression::SuppressionBody,
        suppression::SuppressionSaved,
    )),
    tags((name = "marketing", description = "Public contact forms, their submissions, and suppressed addresses"))
)]
pub struct MarketingApi;

pub fn routes() -> Router<AppState> {
    use forms as f;
    Router::new()
        .route(
            "/api/marketing/forms/",
            get(f::list_forms).post(f::create_form),
        )
        .route(
            "/api/marketing/forms/{key}/",
            get(f::form_detail)
                .patch(f::form_patch)
                .delete(f::form_delete)
                .post(f::submit),
        )
        .route("/api/marketing/submissions/", get(f::list_submissions))
        .route(
            "/api/marketing/submissions/{id}/",
            patch(f::patch_submission),
        )
        .route(
            "/api/marketing/suppressions/",
            get(suppression::list).post(suppression::create),
        )
        .route(
            "/api/marketing/suppressions/{id}/",
            axum::routing::delete(suppression::delete),
        )
}
