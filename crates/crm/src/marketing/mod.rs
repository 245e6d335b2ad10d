//! Marketing: public contact forms and their submissions (`forms`). Newsletters (contact lists,
//! campaigns) are not built yet; suppression (`email_suppression`) is shared with `emails`.

pub mod forms;

use axum::Router;
use axum::routing::{get, patch};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(
        forms::list_forms, forms::create_form, forms::form_detail, forms::form_patch,
        forms::form_delete, forms::submit, forms::list_submissions, forms::patch_submission,
    ),
    components(schemas(
        forms::FormObj, forms::FormListResponse, forms::FormBody, forms::FormSaved,
        forms::MarketingMessage, forms::SubmissionBody, forms::SubmissionObj,
        forms::SubmissionListResponse, forms::SubmissionPatch,
    )),
    tags((name = "marketing", description = "Public contact forms and their submissions"))
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
}
